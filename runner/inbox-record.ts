import { readdir } from "node:fs/promises";
import type { Job } from "../protocol/index.ts";
import { asTerminalStatus, isJobId } from "../protocol/index.ts";
import { adoptRun } from "./adoption.ts";
import type { RunnerContext } from "./context.ts";
import { countedJob, readInboxEvidence } from "./inbox-evidence.ts";
import { refuseBeforeInbox } from "./intake-guards.ts";
import type { LedgerRecord } from "./ledger.ts";
import { ownRecordFromWork, withProgressOf } from "./own-record.ts";
import { runDir } from "./supervisor/run-folder.ts";
import { inspectRun } from "./supervisor/run-view.ts";

/** What the queue's own record made of a job the ledger did not know. */
export type InboxImport = "unknown" | "final" | "adopted" | "queued" | "foreign";

/**
 * Exactly-once does not rest on the local ledger alone: inbox/<id>/job.json is what any earlier runner
 * published (and Syncthing keeps). A job it shows beyond `submitted` is never accepted again. If this
 * runner's work folder holds the job's run, the run is adopted; a job accepted here but never started
 * is queued again; anything else (another runner's, or a work folder that is gone) is left alone.
 */
export async function importFromInbox(ctx: RunnerContext, jobId: string): Promise<InboxImport> {
  // With a record key, a record this runner did not sign is no record: the ledger and intake decide.
  const record = await readInboxEvidence(ctx, jobId);
  if ("missing" in record || "ignored" in record) return "unknown";
  if ("unreadable" in record) {
    // A record that exists but cannot be read proves nothing either way: never start the job on it.
    await ctx.ledger.append({
      event: "imported",
      job_id: jobId,
      at: ctx.now().toISOString(),
      inbox_status: "running",
    });
    ctx.log(
      "NOT TAKEN",
      jobId,
      `its inbox/ record exists but cannot be read (${record.unreadable}); it is never started from here`,
    );
    return "foreign";
  }
  const view = record.job;
  if (view.status === "submitted") return "unknown";
  const at = ctx.now().toISOString();
  const final = asTerminalStatus(view.status);
  if (final) {
    await ctx.ledger.append({
      event: "imported",
      job_id: jobId,
      at,
      inbox_status: view.status,
      status: final,
    });
    ctx.log("known from inbox/", jobId, `already ${final} (the queue's record says so): it never runs again`);
    return "final";
  }
  const run = await inspectRun(runDir(ctx.paths.workDir, jobId));
  const hasRun = run.spec !== undefined || run.state !== undefined || run.outcome !== undefined;
  // What it runs comes from the work copy intake checked, never from inbox/ (see own-record.ts).
  const own =
    hasRun || view.status === "queued" ? await ownRecordFromWork(ctx, jobId, view.queued_at) : undefined;
  if (own && !own.ok) {
    await ctx.ledger.append({ event: "imported", job_id: jobId, at, inbox_status: view.status });
    const why = hasRun
      ? `inbox/ says ${view.status} and its run is in this work folder, but ${own.problem}; it is never started from here`
      : foreignReason(view);
    ctx.log("NOT TAKEN", jobId, why);
    return "foreign";
  }
  const job = own?.ok ? withProgressOf(own.job, view) : undefined;
  if (job && hasRun) {
    ctx.inbox.adopt(job);
    const startedAt = view.started_at ?? run.spec?.created_at ?? at;
    // One write: a crash between the two would leave "accepted, not started" for a run that started.
    await ctx.ledger.append([
      { event: "accepted", job_id: jobId, at, job },
      { event: "started", job_id: jobId, at: startedAt, supervised: true },
    ]);
    const entry = ctx.ledger.get(jobId);
    if (entry) await adoptRun(ctx, entry);
    ctx.log("known from inbox/", jobId, `${view.status} with its run in this work folder: taken over`);
    return "adopted";
  }
  if (job && view.status === "queued") {
    ctx.inbox.adopt(job);
    await ctx.ledger.append({ event: "accepted", job_id: jobId, at, job });
    ctx.scheduler.enqueue(jobId, view.queued_at ?? at);
    ctx.log("known from inbox/", jobId, "accepted here before, never started: queued again");
    return "queued";
  }
  await ctx.ledger.append({ event: "imported", job_id: jobId, at, inbox_status: view.status });
  ctx.log("NOT TAKEN", jobId, foreignReason(view));
  return "foreign";
}

function foreignReason(view: Job): string {
  const who = view.runner ? `runner ${view.runner.host}` : "an earlier runner";
  const beat = view.heartbeat_at ? `, last heartbeat ${view.heartbeat_at}` : "";
  return (
    `inbox/ says ${view.status} (${who}${beat}) but this runner's ledger and work folder have no record of it; ` +
    "it is never started from here. If that runner is gone for good, cancel the job and resubmit it (or resume it)"
  );
}

const REBUILD_BATCH = 1000;

/**
 * A new (or lost) state folder: every job inbox/ knows is written into the ledger before anything is
 * accepted, so no finished job runs again, and runs still alive in the work folder are adopted.
 */
export async function rebuildLedger(ctx: RunnerContext): Promise<void> {
  const names = await readdir(ctx.paths.queue.inbox).catch(() => [] as string[]);
  const counts = new Map<InboxImport, number>();
  let finals: LedgerRecord[] = [];
  let finalCount = 0;
  const at = ctx.now().toISOString();
  for (const name of names) {
    if (!isJobId(name) || ctx.ledger.get(name)) continue;
    // Left to intake, which refuses it as untrusted: see refuseBeforeInbox.
    if (await refuseBeforeInbox(ctx, name)) continue;
    const view = countedJob(await readInboxEvidence(ctx, name));
    const final = view ? asTerminalStatus(view.status) : undefined;
    if (view && final) {
      // One durable write per batch: a history of 100,000 jobs must not cost an fsync each, nor be
      // held in memory whole.
      finals.push({ event: "imported", job_id: name, at, inbox_status: view.status, status: final });
      finalCount++;
      if (finals.length >= REBUILD_BATCH) {
        await ctx.ledger.append(finals);
        finals = [];
      }
      continue;
    }
    const result = await ctx.serial.run(name, () => importFromInbox(ctx, name));
    counts.set(result, (counts.get(result) ?? 0) + 1);
  }
  if (finals.length > 0) await ctx.ledger.append(finals);
  if (finalCount > 0) counts.set("final", finalCount);
  const summary = [...counts].filter(([kind]) => kind !== "unknown").map(([kind, n]) => `${n} ${kind}`);
  if (summary.length > 0)
    ctx.log(
      "ledger rebuilt from inbox/",
      undefined,
      `the state folder was new; inbox/ knew ${summary.join(", ")} (final jobs never run again)`,
    );
}
