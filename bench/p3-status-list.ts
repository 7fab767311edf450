import { join } from "node:path";
import type { Benchmark, BenchResult } from "./bench-result.ts";
import { queueJobIds } from "./generate-queue.ts";
import { openMcpSession, warmIndex } from "./mcp-session.ts";
import { inotifyWatches, memoryStatus, untilQuiet } from "./proc-stats.ts";
import type { CachedQueue } from "./queue-cache.ts";
import { describeWritten } from "./queue-notes.ts";
import type { Summary } from "./stats.ts";
import { percentile, summarize } from "./stats.ts";
import { timeMs } from "./timing.ts";

const STATUS_P50_GOAL_MS = 5;
const STATUS_RATIO_GOAL = 1.5;
const LIST_P50_GOAL_MS = 100;
const LIST_RATIO_GOAL = 1.5;

interface QueueFigures {
  jobs: number;
  status: number[];
  /** list_jobs pages (LIST_ARGS): each as many rows at 100 jobs as at 100,000. */
  list: number[];
  startMs: number;
  rssMb: number;
  watches: number;
}

/** Deterministic pseudo-random picks, so both queue sizes see the same kind of mix every run. */
function picker(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state % n;
  };
}

/**
 * Every call fills its page at both sizes (the 100-job queue has 20 of each filter and 100 jobs in
 * all), so the ratio compares the same work over a larger queue: with pages of 50, four of five
 * calls returned 0 to 42 rows at 100 jobs and 50 at 100,000, and the ratio measured page sizes.
 */
const LIST_ARGS: Record<string, unknown>[] = [
  {},
  { status: ["completed", "failed"] },
  { project: "starspec-m1-wfe" },
  { created_by: "atlas" },
  { offset: 20 },
  { status: ["running", "queued", "submitted"] },
  { limit: 50 },
  { limit: 50, offset: 50 },
];

async function measureQueue(
  scratch: string,
  queue: CachedQueue,
  statusCalls: number,
  listCalls: number,
  log: (line: string) => void,
): Promise<QueueFigures> {
  const jobs = queue.count;
  log(`P3: building the index of ${jobs} jobs, then starting the server`);
  const stateDir = join(scratch, `p3-state-${jobs}`);
  await warmIndex(queue.root, stateDir);
  const session = await openMcpSession(["--queue", queue.root, "--work", join(scratch, `p3-work-${jobs}`)], {
    stateDir,
  });
  try {
    // A mixed queue of 100,000 has 6,667 queued or running jobs, which a server reads while it serves
    // after answering its first calls (P9 measures that start); these are the calls of a settled server.
    const waited = await untilQuiet(session.pid);
    log(`P3: the server on ${jobs} jobs settled after ${(waited / 1000).toFixed(1)} s`);
    const pick = picker(jobs);
    const ids = queueJobIds(jobs);
    // Warm-up: JIT, the first readdir of inbox/.runners, the verification cache of finished jobs.
    for (let i = 0; i < 20; i++) await session.call("job_status", { job_id: ids[pick(ids.length)] });
    for (const args of LIST_ARGS) await session.call("list_jobs", args);
    const status: number[] = [];
    for (let i = 0; i < statusCalls; i++) {
      const jobId = ids[pick(ids.length)];
      status.push(await timeMs(() => session.call("job_status", { job_id: jobId })));
    }
    const list: number[] = [];
    for (let i = 0; i < listCalls; i++) {
      const args = LIST_ARGS[i % LIST_ARGS.length] as Record<string, unknown>;
      let rows = 0;
      list.push(
        await timeMs(async () => {
          const page = await session.call("list_jobs", args);
          rows = ((page.structuredContent as { jobs?: unknown[] } | undefined)?.jobs ?? []).length;
        }),
      );
      const expected = (args.limit as number | undefined) ?? 20;
      if (rows !== expected) {
        throw new Error(
          `P3: list_jobs ${JSON.stringify(args)} gave ${rows} rows on ${jobs} jobs, not a full page of ${expected}`,
        );
      }
    }
    const probe = await session.call("list_jobs", { limit: 1 });
    const total = (probe.structuredContent as { total?: number } | undefined)?.total;
    if (total !== jobs) throw new Error(`P3: list_jobs reports ${total} jobs, ${jobs} were generated`);
    return {
      jobs,
      status,
      list,
      startMs: session.startMs,
      rssMb: (await memoryStatus(session.pid)).rssMb,
      watches: await inotifyWatches(session.pid),
    };
  } finally {
    await session.close();
  }
}

function p50(samples: readonly number[]): number {
  return percentile(samples, 50);
}

function show(samples: readonly number[], digits = 2): string {
  const s: Summary = summarize(samples);
  return `p50 ${p50(samples).toFixed(digits)} ms, p90 ${percentile(samples, 90).toFixed(digits)} ms (${s.min.toFixed(digits)}-${s.max.toFixed(digits)}, n=${s.runs})`;
}

/**
 * P3: job_status and list_jobs (page of 50) through a real MCP client over stdio, on a queue of 100
 * jobs and one of 100,000 (a third each in outbox only, outbox + inbox, archive).
 */
export const statusListBenchmark: Benchmark = async ({ quick, scratch, queues, log }) => {
  const large = quick ? 300 : 100_000;
  const statusCalls = quick ? 20 : 200;
  const listCalls = quick ? LIST_ARGS.length : 10 * LIST_ARGS.length;
  const smallQueue = await queues.shared({ count: 100, mix: "mixed" });
  const bigQueue = await queues.shared({ count: large, mix: "mixed" });
  const small = await measureQueue(scratch, smallQueue, statusCalls, listCalls, log);
  const big = await measureQueue(scratch, bigQueue, statusCalls, listCalls, log);
  const statusRatio = p50(big.status) / p50(small.status);
  const listRatio = p50(big.list) / p50(small.list);
  const statusMet = p50(big.status) <= STATUS_P50_GOAL_MS && statusRatio <= STATUS_RATIO_GOAL;
  const listMet = p50(big.list) <= LIST_P50_GOAL_MS && listRatio <= LIST_RATIO_GOAL;
  const count = large.toLocaleString("en-US");
  const notes = [
    `Queues written straight to disk (bench/generate-queue.ts, "mixed"): realistic job.json files, a third submitted (outbox only), a third seen by the runner (queued, running, completed or failed, with stdout.log and a results manifest), a third archived; ${describeWritten(bigQueue)}. Until issue 17 this benchmark measured 10,000 jobs beside 100; it now measures 100,000.`,
    `job_status: ${statusCalls} calls on ids picked at random (same seed each run) after 20 warm-up calls; list_jobs: ${listCalls} calls cycling through ${LIST_ARGS.length} pages, each full at both sizes (checked): the default page of 20 with no filter, the finished states, a project, a creator, offset 20, the live states, then pages of 50 at offsets 0 and 50. Until this run the calls were pages of 50 under the same filters, which at 100 jobs held 0 to 42 rows for four of the five and so compared page sizes, not queue sizes; figures from those runs are not comparable with these.`,
    `Server start-up (spawn to the end of the MCP handshake) with a state folder of its own (ATOMIZER_STATE_DIR) whose index one \`atomizer-jobs list\` built first (P9 measures start-up): ${small.startMs.toFixed(0)} ms at 100 jobs, ${big.startMs.toFixed(0)} ms at ${count}. inotify watches held by the server: ${small.watches} at 100 jobs, ${big.watches} at ${count}. RSS after the calls: ${small.rssMb.toFixed(0)} MB at 100, ${big.rssMb.toFixed(0)} MB at ${count}.`,
  ];
  const rows: BenchResult[] = [
    {
      id: "P3 status",
      what: `job_status through a real MCP client (stdio), queue of ${count} jobs`,
      figure: show(big.status),
      baseline: `same calls at 100 jobs: ${show(small.status)}`,
      ratio: statusRatio.toFixed(2),
      goal: `p50 <= ${STATUS_P50_GOAL_MS} ms, ratio ${count}/100 <= ${STATUS_RATIO_GOAL}`,
      verdict: quick ? "n/a" : statusMet ? "met" : "missed",
      notes,
    },
    {
      id: "P3 list",
      what: `list_jobs, full pages of 20 and 50 (with and without filters), queue of ${count} jobs`,
      figure: show(big.list, 1),
      baseline: `same calls at 100 jobs: ${show(small.list, 1)}`,
      ratio: listRatio.toFixed(2),
      goal: `p50 <= ${LIST_P50_GOAL_MS} ms, ratio ${count}/100 <= ${LIST_RATIO_GOAL}`,
      verdict: quick ? "n/a" : listMet ? "met" : "missed",
      notes: [],
    },
  ];
  return rows;
};
