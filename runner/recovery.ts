import type { Job } from "../protocol/index.ts";
import { asTerminalStatus, JOB_ENV, pathExists } from "../protocol/index.ts";
import { adoptRun } from "./adoption.ts";
import type { RunnerContext } from "./context.ts";
import { finishJob, internalFailure } from "./finish-job.ts";
import { countedJob, readInboxEvidence, seenSeq } from "./inbox-evidence.ts";
import type { LedgerEntry } from "./ledger.ts";
import { errorMessage } from "./log.ts";
import { ownRecordFromWork, withProgressOf } from "./own-record.ts";
import { publishResults, workLogTail } from "./results-publisher.ts";
import { isJobProcess, killTree } from "./tree-kill.ts";

/**
 * A run started by runner 0.1 (a bare pid, no supervisor): nothing recorded how it ended, so it fails
 * as it always did. Kept for ledgers written before supervisors; never re-run.
 */
async function failUnsupervised(ctx: RunnerContext, entry: LedgerEntry): Promise<void> {
  const jobId = entry.job_id;
  let detail = "its process was no longer running";
  if (entry.pid !== undefined && (await isJobProcess(entry.pid, jobId, JOB_ENV.jobId, ctx.platform))) {
    await killTree({ pid: entry.pid, start: null }, { platform: ctx.platform, graceMs: 0 });
    detail = `its process (pid ${entry.pid}) was still running and has been stopped`;
  }
  const published = await publishResults(ctx.paths.workJob(jobId), ctx.paths.inboxJob(jobId));
  const tail = await workLogTail(ctx.paths.workLog(jobId), ctx.config.logTailLines);
  await finishJob(ctx, jobId, {
    status: "failed",
    fields: {
      exit_code: null,
      error: {
        kind: "runner_restart",
        message: `the runner restarted while this job ran without a supervisor (runner 0.1); ${detail}. Resume it with resume_from, or resubmit it`,
        log_tail: tail,
      },
      results: { files: published.files, published_at: ctx.now().toISOString() },
    },
    detail: `runner_restart: ${detail}`,
  });
}

/**
 * The ledger's job, else (a ledger that lost it) the job.json intake left in the work folder. `alone`:
 * no inbox record counts, so a start the ledger recorded is the job's published state (running, since).
 */
async function ownRecordOf(ctx: RunnerContext, entry: LedgerEntry, alone: boolean): Promise<Job | undefined> {
  let own = entry.job;
  if (!own) {
    const read = await ownRecordFromWork(ctx, entry.job_id, entry.accepted_at);
    own = read.ok ? read.job : undefined;
  }
  if (own && alone && entry.started_at !== undefined && own.status === "queued")
    return { ...own, status: "running", started_at: entry.started_at };
  return own;
}

/**
 * Brings the ledger and inbox/ back in line after a start: runs started before are adopted (see
 * adoption.ts), accepted jobs that never started are queued again, and a job.json a crash kept from
 * being published is published now. Where the ledger and inbox/ disagree, the log says so and the
 * job is resolved toward not running it again.
 */
export async function recover(ctx: RunnerContext): Promise<void> {
  for (const entry of ctx.ledger.refusedUncleaned()) {
    const jobId = entry.job_id;
    try {
      // A crash between ledgering the refusal and publishing it: the job is known, its record is not.
      if (
        entry.job &&
        !entry.foreign &&
        !(await ctx.inbox.read(jobId)) &&
        (await pathExists(ctx.paths.outboxJob(jobId)))
      )
        await ctx.inbox.publishNew(entry.job);
    } catch (error) {
      ctx.log("recovery failed", jobId, errorMessage(error));
    }
  }
  for (const entry of ctx.ledger.live()) {
    try {
      await recoverLive(ctx, entry);
    } catch (error) {
      ctx.log("recovery failed", entry.job_id, errorMessage(error));
    }
  }
}

/** One job accepted here and not finished, brought back in line with inbox/ and its run folder. */
async function recoverLive(ctx: RunnerContext, entry: LedgerEntry): Promise<void> {
  const jobId = entry.job_id;
  // With a record key, only a record this runner signed says how far the job got.
  const evidence = await readInboxEvidence(ctx, jobId);
  const view = countedJob(evidence);
  const own = await ownRecordOf(ctx, entry, view === undefined);
  const ended = view ? asTerminalStatus(view.status) : undefined;
  if (view && ended) {
    // The crash came between publishing the end and recording it.
    ctx.inbox.adopt(own ? withProgressOf(own, view) : view);
    await finishJob(ctx, jobId, { status: ended });
    return;
  }
  if (!own) throw new Error("the ledger lost the job of an unfinished run (internal error)");
  // What runs comes from the runner's own record; inbox/ adds only how far the job got.
  ctx.inbox.adopt(withProgressOf(own, view, seenSeq(evidence)));
  if (!view) await ctx.inbox.update(jobId, {});
  if (entry.started_at !== undefined && entry.supervised) {
    await ctx.serial.run(jobId, () => adoptRun(ctx, entry));
  } else if (entry.started_at !== undefined) {
    await failUnsupervised(ctx, entry);
  } else if (view?.status === "running" && !entry.requeues) {
    // The ledger says not started, inbox/ says running: never resolve that by starting it. A
    // requeued entry is no disagreement: its start was ledgered, then taken back because the
    // script provably never launched, and inbox/ keeps saying running (a job.json never goes
    // back to queued) until the job starts again.
    ctx.log("disagreement", jobId, "inbox/ says running but the ledger never recorded a start: not run");
    await finishJob(
      ctx,
      jobId,
      internalFailure(
        "the runner's ledger and inbox/ disagree about whether this job started; it is not run, to be safe: resubmit it",
      ),
    );
  } else if (await pathExists(ctx.paths.workJob(jobId))) {
    ctx.scheduler.enqueue(jobId, ctx.inbox.current(jobId)?.queued_at ?? entry.accepted_at);
    ctx.log(
      "queued again",
      jobId,
      entry.requeues
        ? "started before a restart, but its script was never launched; not started yet"
        : "accepted before the restart, not started yet",
    );
  } else {
    await finishJob(
      ctx,
      jobId,
      internalFailure(`its work copy ${ctx.paths.workJob(jobId)} is gone; resubmit the job`),
    );
  }
}
