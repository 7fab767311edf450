import type { Job, JobError } from "../protocol/index.ts";
import { checkJobPath } from "../protocol/index.ts";
import type { RunnerContext } from "./context.ts";
import { checkJobTrust } from "./intake-trust.ts";
import { RUN_FIELDS, readWorkCopy } from "./own-record.ts";

export type StartCheck = { ok: true; job: Job } | { ok: false; error: JobError };

/**
 * The last look before a job starts, whatever happened since intake (a restart, a rebuilt ledger): its
 * work copy's job.json, the bytes intake checked, must still read, still verify against a trusted key
 * (with --trust-key) and name a script inside the job. `job` comes back with its run fields taken from
 * that work copy, so what starts is what was checked.
 */
export async function checkBeforeStart(
  ctx: Pick<RunnerContext, "paths" | "keys">,
  jobId: string,
  job: Job,
): Promise<StartCheck> {
  const read = await readWorkCopy(ctx, jobId);
  if (!read.ok)
    return {
      ok: false,
      error: { kind: "internal", message: `job ${jobId} was not run: ${read.problem}; resubmit it` },
    };
  const work = read.job;
  const untrusted = checkJobTrust(work, ctx.keys.trusted);
  if (untrusted?.kind === "reject") return { ok: false, error: untrusted.error };
  const violation = checkJobPath(work.script);
  if (violation)
    return {
      ok: false,
      error: { kind: "rejected", message: `job ${jobId} was not run: script ${violation.message}` },
    };
  const runFields: Record<string, unknown> = { ...job };
  for (const field of RUN_FIELDS) {
    // A plain SYS_19 job's work copy has no manifest: the one intake built stays.
    if (field === "files" && work.files === undefined) continue;
    if (work[field] === undefined) delete runFields[field];
    else runFields[field] = work[field];
  }
  return { ok: true, job: runFields as Job };
}
