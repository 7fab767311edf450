import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { QueuePaths } from "../protocol/index.ts";
import { initQueue, JOB_FILE, LOG_FILE } from "../protocol/index.ts";
import type { QueueMix } from "./queue-jobs.ts";
import { archiveName, GENERATED_HOST, ledgerLines, planJob, queueJobId, runnerView } from "./queue-jobs.ts";

export type { QueueMix } from "./queue-jobs.ts";
export { queueJobId } from "./queue-jobs.ts";

/** The runner's ledger is written in pieces of about this many characters: one write per piece, never the whole file in memory. */
const LEDGER_PIECE = 1 << 20;

export interface GeneratedQueue {
  paths: QueuePaths;
  count: number;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** A job folder with its files; the parent exists, so one mkdir and one open/write/close per file. */
function writeFolder(dir: string, files: readonly (readonly [string, string])[]): void {
  mkdirSync(dir);
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
}

/**
 * Writes `count` realistic jobs straight to disk (job.json, stdout.log, results manifests, archive
 * folders, a runner heartbeat), much faster than submitting them. With `stateDir` it also writes the
 * runner's ledger, so a real runner started on the queue knows every job and has nothing to do.
 *
 * Synchronous on purpose: a job is a few small files in folders that share a parent, so the cost is
 * the file system's per-entry work; the thread pool (and more of it) only added overhead and lock
 * contention on the shared parent folders when this was measured. Nothing is held per job, so 100,000
 * jobs take no more memory than 100.
 */
export async function generateQueue(
  root: string,
  count: number,
  mix: QueueMix,
  stateDir?: string,
): Promise<GeneratedQueue> {
  const paths = await initQueue(root);
  // What every queue a server has served holds: the server makes it at start-up if it is missing.
  await mkdir(paths.fetchedDir, { recursive: true });
  await mkdir(paths.runnersDir, { recursive: true });
  let ledger: number | undefined;
  if (stateDir !== undefined) {
    await mkdir(stateDir, { recursive: true });
    ledger = openSync(join(stateDir, "ledger.jsonl"), "w");
  }
  let pending = "";
  const record = (lines: readonly string[]) => {
    if (ledger === undefined) return;
    pending += `${lines.join("\n")}\n`;
    if (pending.length >= LEDGER_PIECE) {
      writeSync(ledger, pending);
      pending = "";
    }
  };
  try {
    for (let index = 0; index < count; index++) {
      const plan = planJob(index, mix);
      if (plan.where === "outbox") {
        writeFolder(join(paths.outbox, plan.jobId), [[JOB_FILE, json(plan.submitted)]]);
        continue;
      }
      const { job, log } = runnerView(plan);
      record(ledgerLines(plan, job));
      const withLog = (first: string): [string, string][] =>
        log === undefined
          ? [[JOB_FILE, first]]
          : [
              [JOB_FILE, first],
              [LOG_FILE, log],
            ];
      if (plan.where === "archive") {
        writeFolder(join(paths.archive, archiveName(plan)), withLog(json(job)));
        continue;
      }
      writeFolder(join(paths.outbox, plan.jobId), [[JOB_FILE, json(plan.submitted)]]);
      writeFolder(join(paths.inbox, plan.jobId), withLog(json(job)));
    }
    if (ledger !== undefined && pending.length > 0) writeSync(ledger, pending);
  } finally {
    if (ledger !== undefined) closeSync(ledger);
  }
  const now = new Date().toISOString();
  writeFileSync(
    join(paths.runnersDir, `${GENERATED_HOST}.json`),
    json({
      host: GENERATED_HOST,
      version: "0.1.0",
      pid: 4242,
      slots: 1,
      running: [],
      queued: [],
      started_at: now,
      last_seen: now,
      interval_s: 10,
    }),
  );
  return { paths, count };
}

/** The ids of the first `count` generated jobs (newest first), without reading the queue. */
export function queueJobIds(count: number): string[] {
  return Array.from({ length: count }, (_, index) => queueJobId(index));
}
