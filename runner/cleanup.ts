import { pathExists, removeTree } from "../protocol/index.ts";
import type { RunnerConfig } from "./config.ts";
import type { Ledger } from "./ledger.ts";
import type { Logger } from "./log.ts";
import type { RunnerPaths } from "./paths.ts";
import { runDir } from "./supervisor/run-folder.ts";

export interface CleanupContext {
  paths: RunnerPaths;
  ledger: Ledger;
  config: Pick<RunnerConfig, "cleanupDelayS" | "workRetentionS">;
  /** When each finished job's outbox entry was first seen gone. */
  goneSince: Map<string, number>;
  /** Names in outbox/ from the rescan's own readdir: one listing instead of an lstat per finished job. */
  outboxNames: ReadonlySet<string>;
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
  for (const entry of ctx.ledger.entries()) {
    if (entry.status === undefined || entry.cleaned_at !== undefined) continue;
    const jobId = entry.job_id;
    if (ctx.outboxNames.has(jobId)) {
      ctx.goneSince.delete(jobId);
      continue;
    }
    const now = ctx.nowMs();
    const gone = ctx.goneSince.get(jobId) ?? now;
    ctx.goneSince.set(jobId, gone);
    if (now - gone < ctx.config.cleanupDelayS * 1000) continue;
    const inbox = ctx.paths.inboxJob(jobId);
    if (await pathExists(inbox)) {
      await removeTree(inbox);
      ctx.forget(jobId);
      ctx.log("inbox removed (outbox entry gone)", jobId);
    }
    const finishedMs = Date.parse(entry.finished_at ?? entry.accepted_at);
    if (now - finishedMs < ctx.config.workRetentionS * 1000) continue;
    await removeTree(ctx.paths.workJob(jobId));
    await removeTree(runDir(ctx.paths.workDir, jobId));
    await ctx.ledger.append({ event: "cleaned", job_id: jobId, at: new Date(now).toISOString() });
    ctx.goneSince.delete(jobId);
    ctx.log("work copy removed", jobId);
  }
}
