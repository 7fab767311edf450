import type { ResultsManifest } from "../../protocol/index.ts";
import type { VerificationCache } from "../jobs/results-check.ts";
import { checkResults, noResults } from "../jobs/results-check.ts";
import type { ResultsVerification } from "./job-catalog.ts";

/** Nothing to verify: the job has not ended (job_status shows no results then). */
export const NOT_CHECKED: ResultsVerification = { state: "none", sync: noResults("results not checked") };

/** A terminal job's result files against its manifest, hashing them unless `mode` is "sizes". */
export async function verifyResults(
  dir: string,
  manifest: ResultsManifest | undefined,
  cache: VerificationCache,
  mode: "full" | "sizes" = "full",
): Promise<ResultsVerification> {
  const checked = await checkResults(dir, manifest, cache, { hash: mode === "full" });
  if ("hashed" in checked) return { state: "present", sync: checked.sync };
  if (!checked.manifest) return { state: "none", sync: checked };
  if (checked.complete) return { state: "verified", sync: checked };
  return { state: "syncing", detail: checked.summary, sync: checked };
}
