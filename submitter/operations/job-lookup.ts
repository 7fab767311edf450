import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { CancelRequest } from "../../protocol/index.ts";
import { CancelRequestSchema, errnoCode, parseArchiveDirName, readJsonFile } from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import { findArchiveDirs } from "../jobs/job-files.ts";
import { suggestJobIds } from "../jobs/suggest.ts";
import { OperationError } from "./operation-error.ts";

const LOOSE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * A job id safe to join onto queue paths. Near-misses are not refused here (they get suggestions as an
 * unknown job); only what could escape the queue folder or is not an id at all.
 */
export function checkJobIdArgument(jobId: string): string {
  const trimmed = jobId.trim();
  if (!LOOSE_ID.test(trimmed)) {
    throw new OperationError(
      "invalid_argument",
      `job_id ${JSON.stringify(jobId)} is not a job id (expected job-YYYYMMDD-HHMMSS-<slug>)`,
      "call list_jobs to see job ids",
    );
  }
  return trimmed;
}

/** Every job id the queue knows: from the index, else one readdir per folder. */
export async function knownJobIds(ctx: ServerContext): Promise<string[]> {
  if (ctx.index) return [...ctx.index.ids()];
  const ids = new Set<string>();
  for (const root of [ctx.queue.outbox, ctx.queue.inbox, ctx.queue.archive]) {
    let names: string[] = [];
    try {
      names = await readdir(root);
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") throw error;
    }
    for (const name of names) {
      const id = root === ctx.queue.archive ? parseArchiveDirName(name)?.job_id : name;
      if (id?.startsWith("job-")) ids.add(id);
    }
  }
  return [...ids];
}

export async function suggestionsFor(ctx: ServerContext, jobId: string): Promise<string[]> {
  return suggestJobIds(jobId, await knownJobIds(ctx));
}

/** The newest archive folder of a job, from the index when one runs. */
export async function latestArchiveDir(ctx: ServerContext, jobId: string): Promise<string | undefined> {
  const names = ctx.index ? ctx.index.archiveDirs(jobId) : await findArchiveDirs(ctx.queue, jobId);
  if (names.length === 0 && ctx.index) return (await findArchiveDirs(ctx.queue, jobId))[0];
  return names[0];
}

export function cancelRequestPath(ctx: ServerContext, jobId: string): string {
  return join(ctx.queue.cancelDir, `${jobId}.json`);
}

/** The job's cancel request, if one was written (unreadable requests count as none). */
export async function readCancelRequest(
  ctx: ServerContext,
  jobId: string,
): Promise<CancelRequest | undefined> {
  try {
    const parsed = CancelRequestSchema.safeParse(await readJsonFile(cancelRequestPath(ctx, jobId)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function unknownJobError(jobId: string, suggestions: readonly string[]): OperationError {
  return new OperationError(
    "not_found",
    `no job ${jobId} in outbox/, inbox/ or archive/` +
      (suggestions.length > 0 ? `; did you mean ${suggestions.join(", ")}?` : ""),
    "call list_jobs to see job ids",
    { suggestions },
  );
}
