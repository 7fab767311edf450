import { JOB_ENV, pathExists } from "../protocol/index.ts";
import type { RunnerContext } from "./context.ts";
import { failInternally } from "./job-run.ts";
import type { LedgerEntry } from "./ledger.ts";
import { asTerminalStatus } from "./ledger.ts";
import { errorMessage } from "./log.ts";
import { logTail, publishResults } from "./results-publisher.ts";
import { isJobProcess, isProcessAlive, killTree } from "./tree-kill.ts";

async function waitGone(pid: number, platform: NodeJS.Platform, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (await isProcessAlive(pid, platform))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A job that was running when the runner died: stop what is left of it, publish its log, fail it. Never re-run. */
async function failInterrupted(ctx: RunnerContext, entry: LedgerEntry): Promise<void> {
  const jobId = entry.job_id;
  let detail = "its process was no longer running";
  if (entry.pid !== undefined && (await isJobProcess(entry.pid, jobId, JOB_ENV.jobId, ctx.platform))) {
    await killTree(entry.pid, { platform: ctx.platform, graceMs: 0 });
    await waitGone(entry.pid, ctx.platform, 5000);
    detail = `its process (pid ${entry.pid}) was still running and has been stopped`;
  }
  const published = await publishResults(ctx.paths.workJob(jobId), ctx.paths.inboxJob(jobId));
  const tail = await logTail(ctx.paths.workLog(jobId), ctx.config.logTailLines);
  await ctx.inbox.transition(jobId, "failed", {
    exit_code: null,
    error: {
      kind: "runner_restart",
      message: `the runner restarted while this job ran; ${detail}. It is not re-run automatically: resubmit it under a new job id`,
      log_tail: tail,
    },
    results: { files: published.files, published_at: ctx.now().toISOString() },
  });
  await ctx.ledger.append({
    event: "finished",
    job_id: jobId,
    at: ctx.now().toISOString(),
    status: "failed",
  });
  ctx.log("failed", jobId, `runner_restart: ${detail}`);
}

/**
 * Brings the ledger and inbox/ back in line after a start: interrupted runs fail with runner_restart,
 * accepted jobs that never started are queued again, and a job.json a crash kept from being published
 * is published now.
 */
export async function recover(ctx: RunnerContext): Promise<void> {
  for (const entry of ctx.ledger.entries()) {
    const jobId = entry.job_id;
    try {
      if (entry.status !== undefined) {
        if (
          entry.job &&
          entry.refused &&
          entry.cleaned_at === undefined &&
          !(await ctx.inbox.read(jobId)) &&
          (await pathExists(ctx.paths.outboxJob(jobId)))
        ) {
          await ctx.inbox.publishNew(entry.job);
        }
        continue;
      }
      const view = await ctx.inbox.read(jobId);
      const ended = view ? asTerminalStatus(view.status) : undefined;
      if (view && ended) {
        // The crash came between publishing the end and recording it.
        ctx.inbox.adopt(view);
        await ctx.ledger.append({
          event: "finished",
          job_id: jobId,
          at: ctx.now().toISOString(),
          status: ended,
        });
        continue;
      }
      const known = view ?? entry.job;
      if (!known) throw new Error("the ledger lost the job of an unfinished run (internal error)");
      ctx.inbox.adopt(known);
      if (!view) await ctx.inbox.update(jobId, {});
      if (entry.started_at !== undefined) {
        await failInterrupted(ctx, entry);
      } else if (await pathExists(ctx.paths.workJob(jobId))) {
        ctx.scheduler.enqueue(jobId, ctx.inbox.current(jobId)?.queued_at ?? entry.accepted_at);
        ctx.log("queued again", jobId, "accepted before the restart, not started yet");
      } else {
        await failInternally(
          ctx,
          jobId,
          `its work copy ${ctx.paths.workJob(jobId)} is gone; resubmit the job`,
        );
      }
    } catch (error) {
      ctx.log("recovery failed", jobId, errorMessage(error));
    }
  }
}
