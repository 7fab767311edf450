import type { Job, JobError, TerminalStatus } from "../protocol/index.ts";
import { isJobId, isTerminal, pathExists } from "../protocol/index.ts";
import { decideCancel } from "./cancel-request.ts";
import type { RunnerContext } from "./context.ts";
import { finishJob, refuseJob } from "./finish-job.ts";
import { machineCondition } from "./fs-conditions.ts";
import { importFromInbox } from "./inbox-record.ts";
import { firstView } from "./inbox-writer.ts";
import { archivedBefore, refuseBeforeInbox } from "./intake-guards.ts";
import type { IntakeContext, IntakeResult } from "./job-intake.ts";
import { examineJob, salvageJob } from "./job-intake.ts";
import { errorMessage } from "./log.ts";
import { stopRun } from "./supervised-run.ts";

/**
 * The job's cancel request, when it counts: its description for error.message. One that does not count
 * (unsigned or forged, with trusted keys) is logged once and the job runs on.
 */
async function describeCancelRequest(ctx: RunnerContext, jobId: string): Promise<string | undefined> {
  const decision = await decideCancel(ctx.paths.queue, jobId, ctx.keys.trusted);
  if (decision.kind === "ignored")
    noteOnce(
      ctx,
      `cancel:${jobId}:${decision.problem}`,
      "ignored",
      jobId,
      `forged or unsigned cancel request ignored: ${decision.problem}`,
    );
  return decision.kind === "cancel" ? decision.message : undefined;
}

function intakeContext(ctx: RunnerContext): IntakeContext {
  return {
    paths: ctx.paths,
    config: ctx.config,
    platform: ctx.platform,
    pending: ctx.pending,
    trusted: ctx.keys.trusted,
    hasCancelRequest: async (jobId) => (await describeCancelRequest(ctx, jobId)) !== undefined,
    nowMs: () => ctx.now().getTime(),
  };
}

function noteOnce(
  ctx: RunnerContext,
  key: string,
  event: string,
  jobId: string | undefined,
  detail?: string,
): void {
  if (ctx.noted.has(key)) return;
  ctx.noted.add(key);
  ctx.log(event, jobId, detail);
}

/** Looks at outbox/<name> once. Call inside the name's serial lane. */
export async function considerEntry(ctx: RunnerContext, name: string): Promise<void> {
  if (name.startsWith(".")) return;
  const known = ctx.ledger.get(name);
  if (known) {
    if (
      known.cleaned_at !== undefined ||
      (known.status !== undefined && !(await pathExists(ctx.paths.inboxJob(name))))
    ) {
      noteOnce(
        ctx,
        `again:${name}`,
        "ignored",
        name,
        "this job id was already handled (ledger): it never runs twice",
      );
    }
    return;
  }
  if (isJobId(name) && (await archivedBefore(ctx, name))) {
    await ctx.ledger.append({ event: "archived", job_id: name, at: ctx.now().toISOString() });
    ctx.pending.delete(name);
    ctx.log("ignored", name, "already archived: it never runs twice");
    return;
  }
  // The queue's own record first: a job some runner already took is never accepted again.
  if (
    isJobId(name) &&
    !(await refuseBeforeInbox(ctx, name)) &&
    (await importFromInbox(ctx, name)) !== "unknown"
  ) {
    ctx.pending.delete(name);
    ctx.pump();
    return;
  }
  const blocked = ctx.intakeBlocked();
  if (blocked) {
    noteOnce(ctx, `blocked:${name}`, "waiting", name, "not taken while another runner is live on this queue");
    return;
  }
  let result: IntakeResult;
  try {
    result = await examineJob(intakeContext(ctx), name);
  } catch (error) {
    const condition = machineCondition(error);
    if (condition) {
      noteOnce(
        ctx,
        `machine:${name}:${condition}`,
        "waiting",
        name,
        `${condition} while taking the job in: retried at the next look (${errorMessage(error)})`,
      );
      return;
    }
    // Anything else about this folder fails the same way on every look: end the job once, with why.
    result = {
      kind: "reject",
      job: salvageJob(undefined, name),
      error: {
        kind: "invalid_job",
        message: `the runner cannot examine this job (${errorMessage(error)}); fix the job folder and resubmit under a new job id`,
      },
    };
  }
  try {
    await act(ctx, name, result);
  } catch (error) {
    const condition = machineCondition(error);
    if (!condition) throw error;
    noteOnce(
      ctx,
      `machine:${name}:${condition}`,
      "waiting",
      name,
      `${condition}: the job is looked at again later (${errorMessage(error)})`,
    );
  }
}

/** Closes a job that never ran (rejected, incomplete, cancelled early); see refuseJob. */
async function refuse(ctx: RunnerContext, job: Job, status: TerminalStatus, error: JobError): Promise<void> {
  await refuseJob(ctx, job, { status, fields: { error }, detail: `${error.kind}: ${error.message}` });
  ctx.pending.delete(job.job_id);
}

async function act(ctx: RunnerContext, name: string, result: IntakeResult): Promise<void> {
  switch (result.kind) {
    case "ignore":
      if (result.reason !== "the job folder is gone")
        noteOnce(ctx, `ignore:${name}`, "ignored", undefined, result.reason);
      return;
    case "wait":
      noteOnce(ctx, `wait:${name}:${result.reason}`, "waiting", name, result.reason);
      return;
    case "reject":
      await refuse(ctx, result.job, "failed", result.error);
      return;
    case "cancel": {
      const message = (await describeCancelRequest(ctx, name)) ?? "cancel requested";
      await refuse(ctx, result.job, "cancelled", {
        kind: "cancelled",
        message: `${message} (before it started)`,
      });
      return;
    }
    case "accept": {
      const queued = firstView(result.job, "queued", { runner: ctx.runnerInfo }, ctx.now());
      await ctx.ledger.append({ event: "accepted", job_id: name, at: ctx.now().toISOString(), job: queued });
      // Accepted from here on: a full inbox disk delays the publication (flushed on each heartbeat), not the job.
      await ctx.inbox.publishNew(queued).catch((error: unknown) => {
        const condition = machineCondition(error);
        if (!condition) throw error;
        ctx.log("waiting", name, `${condition}: queued, published to inbox/ once it can be written`);
      });
      for (const note of result.notes) ctx.log("note", name, note);
      ctx.log("queued", name, `${queued.files?.length ?? 0} files verified`);
      ctx.scheduler.enqueue(name, queued.queued_at ?? ctx.now().toISOString());
      ctx.pump();
      return;
    }
  }
}

/** Honours outbox/.cancel/<jobId>.json. Call inside the job's serial lane. */
export async function considerCancel(ctx: RunnerContext, jobId: string): Promise<void> {
  const known = ctx.ledger.get(jobId);
  if (!known) {
    // Not accepted yet: intake sees the request and closes the job as cancelled once its job.json is here.
    await considerEntry(ctx, jobId);
    return;
  }
  if (known.status !== undefined) return;
  const view = ctx.inbox.current(jobId);
  if (view && isTerminal(view.status)) return;
  const described = await describeCancelRequest(ctx, jobId);
  // Signed jobs only: a cancel counts only as a signed request naming the job, never as an event alone.
  if (described === undefined && ctx.keys.trusted.length > 0) return;
  const message = described ?? "cancel requested";
  if (ctx.scheduler.dequeue(jobId)) {
    await finishJob(ctx, jobId, {
      status: "cancelled",
      fields: { error: { kind: "cancelled", message: `${message} (while queued)` } },
      detail: "while queued",
    });
    ctx.pump();
    return;
  }
  // Not awaited: the kill takes seconds and needs this job's lane free for the outcome it causes.
  if (ctx.active.has(jobId))
    void stopRun(ctx, jobId, { kind: "cancelled", message }).catch((error: unknown) =>
      ctx.log("cancel failed", jobId, errorMessage(error)),
    );
}
