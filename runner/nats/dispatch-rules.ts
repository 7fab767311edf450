import type { Job } from "../../protocol/index.ts";
import type { FileIndex, Labels, SubmissionRecord } from "../../protocol/nats-layout.ts";
import { NX_LICENCE_CLASS } from "./bridge-config.ts";

// The bridge's decisions that need no NATS: whether a job may run here, which licences it holds,
// and whether a finished job's results are all in the Object Store.

/** The first label the job asks for that this runner lacks or has with another value; undefined: it may run here. */
export function labelMismatch(wanted: Labels | undefined, offered: Labels): string | undefined {
  for (const [name, value] of Object.entries(wanted ?? {})) {
    const have = offered[name];
    if (have !== value)
      return have === undefined
        ? `needs label ${name}=${value}, this runner has no ${name}`
        : `needs label ${name}=${value}, this runner has ${name}=${have}`;
  }
  return undefined;
}

/** The job type from the submitted job.json text; undefined when it cannot be read (intake rejects it then). */
export function jobTypeOf(jobText: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(jobText);
    if (parsed && typeof parsed === "object" && "type" in parsed && typeof parsed.type === "string")
      return parsed.type;
  } catch {
    // Not JSON: the runner's intake says so in the job's own record.
  }
  return undefined;
}

/**
 * The licence classes a job holds from claim to done: those its submission names, plus "nx" for a
 * job type that starts NX wherever the pool `licence.nx` exists (the submitter need not know the
 * pool). Sorted and unique, so every runner takes them in the same order.
 */
export function licenceClassesFor(
  sub: Pick<SubmissionRecord, "job" | "licences">,
  nxJobTypes: readonly string[],
  pools: ReadonlySet<string>,
): string[] {
  const classes = new Set(sub.licences ?? []);
  const type = jobTypeOf(sub.job);
  if (type !== undefined && nxJobTypes.includes(type) && pools.has(NX_LICENCE_CLASS))
    classes.add(NX_LICENCE_CLASS);
  return [...classes].sort();
}

/**
 * Results the job's record lists that are not in the uploaded index with the same size and sha256;
 * empty once a finished job may be committed. A record without results (refused jobs) has none.
 */
export function missingResults(job: Pick<Job, "results">, index: FileIndex): string[] {
  const uploaded = new Map(index.map((file) => [file.path, file]));
  return (job.results?.files ?? [])
    .filter((file) => {
      const found = uploaded.get(file.path);
      return !found || found.size !== file.size || found.sha256 !== file.sha256;
    })
    .map((file) => file.path);
}
