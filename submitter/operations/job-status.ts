import { join } from "node:path";
import { isProtocolError, isTerminal, LOG_FILE } from "../../protocol/index.ts";
import type { JobRecord } from "../catalog/job-catalog.ts";
import type { ServerContext } from "../context.ts";
import { readLogTail } from "../jobs/log-file.ts";
import type { RunnerView } from "../jobs/runners.ts";
import type { StatusView } from "../jobs/status-view.ts";
import { buildStatusView } from "../jobs/status-view.ts";
import { checkJobIdArgument, suggestionsFor } from "./job-lookup.ts";

const LOG_TAIL_BYTES = 4096;

/**
 * One job's state from its own files only (its submission, the runner's copy, its cancel request,
 * and the runner heartbeats while it waits), so it stays fast with 10,000 jobs in the queue.
 */
export async function jobStatus(ctx: ServerContext, rawJobId: string): Promise<StatusView> {
  return statusViewOf(ctx, await ctx.catalog.get(checkJobIdArgument(rawJobId)));
}

/** The status view of a job already read (wait_for_job and the job:// resource read it themselves). */
export async function statusViewOf(ctx: ServerContext, record: JobRecord): Promise<StatusView> {
  const { submitted, runner, folders } = record;
  const inboxJob = runner.kind === "ok" ? runner.job : undefined;
  const status = inboxJob?.status;
  const waiting = runner.kind !== "ok" || status === "queued" || status === "submitted";
  const terminal = status !== undefined && isTerminal(status);
  const now = ctx.now();
  const [runners, logTail] = await Promise.all([
    waiting && (submitted.kind !== "absent" || runner.kind === "ok")
      ? ctx.catalog.runners(now)
      : ([] as RunnerView[]),
    (status === "failed" || status === "cancelled") && !inboxJob?.error?.log_tail?.length
      ? readLogTail(join(folders.runner.dir, LOG_FILE), LOG_TAIL_BYTES, 20, {
          within: folders.runner.within,
        }).catch((error: unknown) => {
          // A planted link or FIFO as stdout.log must not break the status itself: say why no tail.
          if (isProtocolError(error, "unsafe_file")) return [`(log not shown: ${error.message})`];
          throw error;
        })
      : Promise.resolve(undefined),
  ]);
  return buildStatusView({
    jobId: record.job_id,
    now,
    outbox: submitted,
    inbox: runner,
    archive: record.archive,
    runners,
    // As the runner's view says: a finished job shows no pending cancel request, and only it has results.
    cancel: terminal ? undefined : record.cancel,
    results: terminal ? record.results.sync : undefined,
    logTail,
    suggestions: record.state === "unknown" ? await suggestionsFor(ctx, record.job_id) : [],
  });
}
