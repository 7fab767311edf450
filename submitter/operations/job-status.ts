import { join } from "node:path";
import { isProtocolError, LOG_FILE, parseArchiveDirName } from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import type { JobRead } from "../jobs/job-files.ts";
import { jobDirs, readJobAt } from "../jobs/job-files.ts";
import { readLogTail } from "../jobs/log-file.ts";
import type { ResultsSync } from "../jobs/results-check.ts";
import { checkResults } from "../jobs/results-check.ts";
import type { RunnerView } from "../jobs/runners.ts";
import { readRunners } from "../jobs/runners.ts";
import type { StatusView } from "../jobs/status-view.ts";
import { buildStatusView } from "../jobs/status-view.ts";
import { checkJobIdArgument, latestArchiveDir, readCancelRequest, suggestionsFor } from "./job-lookup.ts";

const LOG_TAIL_BYTES = 4096;

/**
 * One job's state from its own files only (outbox/<id>, inbox/<id>, its cancel request, and the
 * runner heartbeats while it waits), so it stays fast with 10,000 jobs in the queue.
 */
export async function jobStatus(ctx: ServerContext, rawJobId: string): Promise<StatusView> {
  const jobId = checkJobIdArgument(rawJobId);
  const dirs = jobDirs(ctx.queue, jobId);
  const [outbox, inbox] = await Promise.all([readJobAt(dirs.outbox), readJobAt(dirs.inbox)]);
  let archive: { dir: string; archived_at: string; read: JobRead } | undefined;
  if (outbox.kind === "absent") {
    const name = await latestArchiveDir(ctx, jobId);
    const parsed = name ? parseArchiveDirName(name) : undefined;
    if (name && parsed) {
      const dir = join(ctx.queue.archive, name);
      archive = { dir, archived_at: parsed.archived_at, read: await readJobAt(dir) };
    }
  }
  const inboxJob = inbox.kind === "ok" ? inbox.job : undefined;
  const status = inboxJob?.status;
  const waiting = inbox.kind !== "ok" || status === "queued" || status === "submitted";
  const terminal = status === "completed" || status === "failed" || status === "cancelled";
  const now = ctx.now();
  const [runners, cancel, results, logTail] = await Promise.all([
    waiting && (outbox.kind !== "absent" || inbox.kind === "ok")
      ? readRunners(ctx.queue, now)
      : ([] as RunnerView[]),
    terminal ? undefined : readCancelRequest(ctx, jobId),
    terminal
      ? checkResults(dirs.inbox, inboxJob?.results, ctx.verification)
      : Promise.resolve<ResultsSync | undefined>(undefined),
    (status === "failed" || status === "cancelled") && !inboxJob?.error?.log_tail?.length
      ? readLogTail(join(dirs.inbox, LOG_FILE), LOG_TAIL_BYTES, 20, { within: ctx.queue.inbox }).catch(
          (error: unknown) => {
            // A planted link or FIFO as stdout.log must not break the status itself: say why no tail.
            if (isProtocolError(error, "unsafe_file")) return [`(log not shown: ${error.message})`];
            throw error;
          },
        )
      : Promise.resolve(undefined),
  ]);
  const unknown = outbox.kind === "absent" && inbox.kind === "absent" && archive === undefined;
  return buildStatusView({
    jobId,
    now,
    outbox,
    inbox,
    archive,
    runners,
    cancel,
    results,
    logTail,
    suggestions: unknown ? await suggestionsFor(ctx, jobId) : [],
  });
}
