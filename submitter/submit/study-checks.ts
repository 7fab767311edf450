import { SPEC_FILE } from "../../protocol/index.ts";
import { OperationError } from "../operations/operation-error.ts";
import { describeFinding, findAbsolutePaths } from "./absolute-paths.ts";
import { checkAtomizerSpec } from "./spec-check.ts";
import type { StudyListing } from "./study-files.ts";

/** Python modules beside the script that are read for absolute paths too (a study's own imports). */
const MAX_SIBLING_MODULES = 50;

/**
 * What the runner would trip over inside the study's files: a missing script, a bad AtomizerSpec, and
 * absolute paths in the script, the Python modules beside it (what it imports) or the spec (SYS_19
 * rule 5). One line per problem, all of them at once.
 */
export async function checkStudyContent(listing: StudyListing, script: string): Promise<string[]> {
  const problems: string[] = [];
  const within = { within: listing.root };
  const bySource = new Map(listing.files.map((file) => [file.path, file.source]));
  const scriptSource = bySource.get(script);
  if (!scriptSource) {
    const top = listing.files.map((file) => file.path).filter((path) => !path.includes("/"));
    problems.push(
      `script ${script} is not in ${listing.root}; files at the top: ${top.slice(0, 8).join(", ") || "(none)"}`,
    );
  }
  const specSource = bySource.get(SPEC_FILE);
  if (specSource) problems.push(...(await checkAtomizerSpec(specSource, SPEC_FILE, within)));
  const folder = script.includes("/") ? script.slice(0, script.lastIndexOf("/") + 1) : "";
  const modules = listing.files
    .filter(({ path }) => path !== script && path.endsWith(".py") && path.startsWith(folder))
    .filter(({ path }) => !path.slice(folder.length).includes("/"))
    .slice(0, MAX_SIBLING_MODULES)
    .map(({ path, source }) => [path, source] as const);
  for (const [path, source] of [[script, scriptSource], ...modules, [SPEC_FILE, specSource]] as const) {
    if (!source) continue;
    for (const finding of await findAbsolutePaths(source, path, within)) {
      problems.push(`${describeFinding(finding)} (SYS_19 rule 5: relative paths only)`);
    }
  }
  return problems;
}

/** Refuses a submission with every problem found (the first 15), so one fix round is enough. */
export function refuse(problems: readonly string[], hint: string): never {
  const shown = problems.slice(0, 15);
  const more = problems.length > shown.length ? `\n  ... and ${problems.length - shown.length} more` : "";
  throw new OperationError(
    "invalid_argument",
    `submission refused, nothing was published:\n  ${shown.join("\n  ")}${more}`,
    hint,
    { problems: shown },
  );
}
