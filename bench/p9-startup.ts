import { existsSync } from "node:fs";
import { join } from "node:path";
import { RACY_STAMP_MS } from "../protocol/index.ts";
import type { Benchmark, BenchResult } from "./bench-result.ts";
import { queueJobId } from "./generate-queue.ts";
import { openMcpSession, warmIndex } from "./mcp-session.ts";
import { memoryStatus } from "./proc-stats.ts";
import type { CachedQueue } from "./queue-cache.ts";
import { describeWritten } from "./queue-notes.ts";
import type { Summary } from "./stats.ts";
import { formatSummary, summarize } from "./stats.ts";

const MID_RATIO_GOAL = 1.3;
const LARGE_RATIO_GOAL = 2;
const MID_RSS_GOAL_MB = 25;
const LARGE_RSS_GOAL_MB = 100;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Until the process is gone: the next start must not overlap the last one (they share the state folder). */
async function exited(pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await sleep(20);
}

interface Start {
  /** Spawn to the answer of job_status (after list_jobs). */
  ms: number;
  peakRssMb: number;
}

/**
 * One start as an agent's gateway makes it: spawn `atomizer-jobs mcp`, the MCP handshake, list_jobs
 * (page of 50), then job_status of a live job; timed from just before the spawn to the second answer.
 */
async function startOnce(queue: CachedQueue, scratch: string, stateDir: string): Promise<Start> {
  const started = process.hrtime.bigint();
  const session = await openMcpSession(["--queue", queue.root, "--work", join(scratch, "p9-work")], {
    stateDir,
  });
  try {
    const list = await session.call("list_jobs", { limit: 50 });
    // An empty queue has no job to ask about: an unknown id is what job_status answers there.
    const status =
      queue.count >= 2
        ? await session.call("job_status", { job_id: queueJobId(1) })
        : await session.client.callTool({ name: "job_status", arguments: { job_id: queueJobId(1) } });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const total = (list.structuredContent as { total?: number } | undefined)?.total;
    if (total !== queue.count)
      throw new Error(`P9: list_jobs reports ${total} jobs, ${queue.count} were generated`);
    if (
      queue.count >= 2 &&
      (status.structuredContent as { job?: { state?: string } } | undefined)?.job?.state !== "queued"
    )
      throw new Error(
        `P9: job_status of ${queueJobId(1)} did not answer "queued": ${JSON.stringify(status)}`,
      );
    return { ms, peakRssMb: (await memoryStatus(session.pid)).peakRssMb };
  } finally {
    await session.close();
    await exited(session.pid);
  }
}

interface SizeFigures {
  count: number;
  /** The index's first build (atomizer-jobs list over an empty state folder), not in the goal. */
  buildMs: number;
  /** The first start over the built index (not timed in the goal: page cache, JIT). */
  first: Start;
  time: Summary;
  peakRss: Summary;
  queue: CachedQueue;
}

interface PreparedSize {
  queue: CachedQueue;
  stateDir: string;
  buildMs: number;
  first: Start;
}

/** The index built and one untimed start made, for the timed starts that follow. */
async function prepareSize(
  queue: CachedQueue,
  scratch: string,
  log: (line: string) => void,
): Promise<PreparedSize> {
  // An index trusts a folder stamp only once it is RACY_STAMP_MS old: a queue written a moment ago
  // would look changed at every start.
  const settle = queue.madeAt + RACY_STAMP_MS + 500 - Date.now();
  if (settle > 0) await sleep(settle);
  const stateDir = join(scratch, `p9-state-${queue.count}`);
  log(`P9: ${queue.count} jobs: building the index (atomizer-jobs list)`);
  const buildMs = await warmIndex(queue.root, stateDir);
  const first = await startOnce(queue, scratch, stateDir);
  return { queue, stateDir, buildMs, first };
}

/**
 * Timed starts of every size in turn, run by run: a slower spell of this shared machine (its virtual
 * cores' steal time comes and goes by the minute) falls on every size alike, where starts grouped by
 * size once put a spell on one size only.
 */
async function measureSizes(
  prepared: readonly PreparedSize[],
  scratch: string,
  runs: number,
  log: (line: string) => void,
): Promise<SizeFigures[]> {
  const starts: Start[][] = prepared.map(() => []);
  for (let run = 0; run < runs; run++) {
    for (const [at, size] of prepared.entries()) {
      starts[at]?.push(await startOnce(size.queue, scratch, size.stateDir));
    }
  }
  return prepared.map((size, at) => {
    const timed = starts[at] ?? [];
    log(
      `P9: ${size.queue.count} jobs: first ${size.first.ms.toFixed(0)} ms, then ${timed.map((s) => s.ms.toFixed(0)).join(", ")} ms`,
    );
    return {
      count: size.queue.count,
      buildMs: size.buildMs,
      first: size.first,
      time: summarize(timed.map((s) => s.ms)),
      peakRss: summarize(timed.map((s) => s.peakRssMb)),
      queue: size.queue,
    };
  });
}

const jobs = (count: number) => `${count.toLocaleString("en-US")} jobs`;

/**
 * P9: start-up of the stdio MCP server, as every agent gateway pays it: time from spawning the
 * process to the answers of list_jobs and job_status, and its peak RSS, with a warm index (a first
 * start on the same state folder built it), on an empty queue and on 100, 10,000 and 100,000 jobs.
 */
export const startupBenchmark: Benchmark = async ({ quick, scratch, queues, log }) => {
  const [mid, large] = quick ? [200, 300] : [10_000, 100_000];
  const runs = quick ? 1 : 5;
  const prepared: PreparedSize[] = [];
  for (const count of [0, 100, mid, large]) {
    prepared.push(await prepareSize(await queues.shared({ count, mix: "mixed" }), scratch, log));
  }
  const measured = await measureSizes(prepared, scratch, runs, log);
  const [empty, base, middle, big] = measured as [SizeFigures, SizeFigures, SizeFigures, SizeFigures];
  const midRatio = middle.time.median / base.time.median;
  const largeRatio = big.time.median / base.time.median;
  const midRss = middle.peakRss.median - empty.peakRss.median;
  const largeRss = big.peakRss.median - empty.peakRss.median;
  const seconds = (s: Summary) =>
    formatSummary({ ...s, median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 }, "s", 2);
  const mb = (s: Summary) => formatSummary(s, "MB", 0);
  const notes = [
    `Each start: an MCP SDK client in the bench process spawns \`node bin/atomizer-jobs.js mcp\` (the queue's "mixed" mix, bench/generate-queue.ts), completes the handshake, calls list_jobs (page of 50) then job_status of a queued job, and is timed from just before the spawn to the second answer; peak RSS is the server's VmHWM then. The client closes and the server exits before the next start.`,
    `Warm index: each queue size has its own state folder (ATOMIZER_STATE_DIR, under the run's scratch folder); one \`atomizer-jobs list\` builds the index there (a server whose first build takes over 3 s answers meanwhile, with listings marked incomplete, so the build is made before the timed starts), one untimed start follows, then ${runs} timed start${runs === 1 ? "" : "s"} reuse${runs === 1 ? "s" : ""} it, the sizes taking turns start by start (empty, 100, 10,000, 100,000, then again) so that a slower spell of the machine falls on every size alike. First builds (no index yet, the whole list command): ${measured.map((m) => `${jobs(m.count)} ${(m.buildMs / 1000).toFixed(2)} s`).join("; ")}. A server that keeps no index (before issue 17) pays a full read of the queue at every start.`,
    `Queues: ${measured
      .filter((m) => m.count > 0)
      .map((m) => describeWritten(m.queue))
      .join("; ")}.`,
  ];
  return [
    {
      id: "P9 time",
      what: `stdio MCP server start-up: spawn -> answers of list_jobs + job_status, warm index, queue of ${jobs(mid)} and ${jobs(large)}`,
      figure: `${jobs(mid)}: ${seconds(middle.time)}; ${jobs(large)}: ${seconds(big.time)}`,
      baseline: `${jobs(100)}: ${seconds(base.time)} (empty queue: ${seconds(empty.time)})`,
      ratio: `${midRatio.toFixed(2)}; ${largeRatio.toFixed(2)}`,
      goal: `${mid.toLocaleString("en-US")}/100 <= ${MID_RATIO_GOAL}; ${large.toLocaleString("en-US")}/100 <= ${LARGE_RATIO_GOAL}`,
      verdict: quick
        ? "n/a"
        : midRatio <= MID_RATIO_GOAL && largeRatio <= LARGE_RATIO_GOAL
          ? "met"
          : "missed",
      notes,
    },
    {
      id: "P9 RSS",
      what: `peak RSS (VmHWM) of the same starts, queue of ${jobs(mid)} and ${jobs(large)}`,
      figure: `${jobs(mid)}: ${mb(middle.peakRss)}; ${jobs(large)}: ${mb(big.peakRss)}`,
      baseline: `empty queue: ${mb(empty.peakRss)} (${jobs(100)}: ${mb(base.peakRss)})`,
      ratio: `+${midRss.toFixed(0)} MB; +${largeRss.toFixed(0)} MB`,
      goal: `${jobs(mid)} within ${MID_RSS_GOAL_MB} MB of empty; ${jobs(large)} within ${LARGE_RSS_GOAL_MB} MB`,
      verdict: quick ? "n/a" : midRss <= MID_RSS_GOAL_MB && largeRss <= LARGE_RSS_GOAL_MB ? "met" : "missed",
      notes: [],
    },
  ] satisfies BenchResult[];
};
