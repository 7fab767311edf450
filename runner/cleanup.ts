import { pathExists, removeTree } from "../protocol/index.ts";
import type { RunnerConfig } from "./config.ts";
import type { Ledger } from "./ledger.ts";
import type { Logger } from "./log.ts";
import type { RunnerPaths } from "./paths.ts";
import { runDir } from "./supervisor/run-folder.ts";

/** A finished job whose outbox entry is gone, until it is cleaned. */
export interface GoneJob {
  /** When its outbox entry was first seen gone. */
  since: number;
  /** Its inbox folder was removed (or was not there). */
  inboxRemoved?: boolean;
  /** When it finished, read from the ledger once. */
  finishedMs?: number;
}

export interface CleanupContext {
  paths: RunnerPaths;
  ledger: Ledger;
  config: Pick<RunnerConfig, "cleanupDelayS" | "workRetentionS">;
  /** Finished jobs whose outbox entries are gone: few (those archived lately), unlike all history. */
  goneSince: Map<string, GoneJob>;
  /**
   * Names in outbox/ from the rescan's own readdir; undefined when outbox/ was not listed because its
   * stamp proves the listing unchanged (so is the set of finished jobs gone from it, but for jobs
   * finished since, which the next full listing finds).
   */
  outboxNames: readonly string[] | undefined;
  nowMs: () => number;
  log: Logger;
  forget: (jobId: string) => void;
}

/**
 * Removes inbox/<id>/ once a finished job's outbox entry has gone (archived by the submitter) and
 * stayed gone for the cleanup delay; the work copy goes after the retention period. The ledger keeps
 * the id, so a folder that comes back never runs again.
 */
export async function cleanupFinished(ctx: CleanupContext): Promise<void> {
  const now = ctx.nowMs();
  if (ctx.outboxNames) {
    // One query over the listing: the ledger's finished jobs are never walked one by one here.
    const gone = new Set(ctx.ledger.finishedNotAmong(ctx.outboxNames));
    for (const jobId of ctx.goneSince.keys()) if (!gone.has(jobId)) ctx.goneSince.delete(jobId);
    for (const jobId of gone) if (!ctx.goneSince.has(jobId)) ctx.goneSince.set(jobId, { since: now });
  }
  for (const [jobId, gone] of ctx.goneSince) {
    if (now - gone.since < ctx.config.cleanupDelayS * 1000) continue;
    if (!gone.inboxRemoved) {
      const inbox = ctx.paths.inboxJob(jobId);
      if (await pathExists(inbox)) {
        await removeTree(inbox);
        ctx.forget(jobId);
        ctx.log("inbox removed (outbox entry gone)", jobId);
      }
      gone.inboxRemoved = true;
    }
    if (gone.finishedMs === undefined) {
      const entry = ctx.ledger.get(jobId);
      if (entry?.status === undefined || entry.cleaned_at !== undefined) {
        ctx.goneSince.delete(jobId);
        continue;
      }
      gone.finishedMs = Date.parse(entry.finished_at ?? entry.accepted_at);
    }
    if (now - gone.finishedMs < ctx.config.workRetentionS * 1000) continue;
    await removeTree(ctx.paths.workJob(jobId));
    await removeTree(runDir(ctx.paths.workDir, jobId));
    await ctx.ledger.append({ event: "cleaned", job_id: jobId, at: new Date(now).toISOString() });
    ctx.goneSince.delete(jobId);
    ctx.log("work copy removed", jobId);
  }
}
