import { archiveDirsOf, readJobAt } from "../protocol/index.ts";
import type { RunnerContext } from "./context.ts";
import { authenticatesRecords } from "./inbox-evidence.ts";
import { checkJobTrust } from "./intake-trust.ts";

// Checks intake makes of a job id the ledger does not know, before the queue's records are consulted.

/**
 * True when archive/ holds a folder of `jobId`: the job finished and was archived, so a folder of it
 * back in outbox/ is a replay (an archived copy placed there again) and never runs, whatever the state
 * folder remembers. One listing of archive/ per job id, the first time intake considers that id in
 * this process: a job waiting for its files is not listed again on every rescan.
 */
export async function archivedBefore(
  ctx: Pick<RunnerContext, "paths" | "archiveChecked">,
  jobId: string,
): Promise<boolean> {
  if (ctx.archiveChecked.has(jobId)) return false;
  const archived = (await archiveDirsOf(ctx.paths.queue, jobId)).length > 0;
  ctx.archiveChecked.add(jobId);
  return archived;
}

/**
 * With trusted keys but no record key, inbox records cannot be authenticated: the job's own signature
 * is checked first, so an untrusted job is refused as untrusted before any inbox record is believed.
 * True when outbox/<id>/job.json reads and does not verify; intake then refuses it.
 */
export async function refuseBeforeInbox(
  ctx: Pick<RunnerContext, "paths" | "keys">,
  jobId: string,
): Promise<boolean> {
  if (ctx.keys.trusted.length === 0 || authenticatesRecords(ctx)) return false;
  const read = await readJobAt(ctx.paths.outboxJob(jobId));
  return read.kind === "ok" && checkJobTrust(read.job, ctx.keys.trusted) !== undefined;
}
