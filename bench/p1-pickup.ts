import { watch } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Job } from "../protocol/index.ts";
import {
  buildManifest,
  initQueue,
  JOB_FILE,
  JobSchema,
  makeJobId,
  publishDirectory,
  SCHEMA_VERSION,
  writeJsonAtomic,
} from "../protocol/index.ts";
import { createRunner } from "../runner/runner-lifecycle.ts";
import type { Benchmark } from "./bench-result.ts";
import { formatSummary, summarize } from "./stats.ts";
import { execFileAsync, timeMs } from "./timing.ts";

// The job's first statement: a monotonic timestamp (the same clock as Node's hrtime) into a file.
const SCRIPT = `import sys, time
stamp = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
with open(sys.argv[1], "w") as out:
    out.write(str(stamp))
`;

const GOAL_MS = 30;

function now(): bigint {
  return process.hrtime.bigint();
}

function ms(from: bigint, to: bigint): number {
  return Number(to - from) / 1e6;
}

/** Resolves when `check` returns a value; `wake` is called by whoever may have changed it. */
function waitFor<T>(
  what: string,
  check: () => T | undefined,
  timeoutMs = 30_000,
): {
  promise: Promise<T>;
  wake: () => void;
} {
  let wake = () => {};
  const promise = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`P1: timed out waiting for ${what}`)), timeoutMs);
    wake = () => {
      const value = check();
      if (value !== undefined) {
        clearTimeout(timer);
        resolve(value);
      }
    };
  });
  wake();
  return { promise, wake };
}

/**
 * P1: a small job is renamed into outbox/; how long until a real runner (in this process, watching
 * with chokidar, default rescan) has verified, copied, ledgered and spawned its process. Beside it, a
 * raw fs.watch on outbox/ in the same process seeing the same rename.
 */
export const pickupBenchmark: Benchmark = async ({ quick, scratch, python, log }) => {
  const count = quick ? 5 : 200;
  log(`P1: ${count} jobs, one at a time`);
  const interpreter = python ?? "python3";
  const queue = await initQueue(join(scratch, "p1-queue"));
  const staging = join(queue.root, ".staging");
  const marks = join(scratch, "p1-marks");
  await mkdir(staging, { recursive: true });
  await mkdir(marks, { recursive: true });

  const started = new Map<string, bigint>();
  const ended = new Set<string>();
  const other: string[] = [];
  let wakeAll = () => {};
  const runner = createRunner(
    {
      queueDir: queue.root,
      workDir: join(scratch, "p1-work"),
      stateDir: join(scratch, "p1-state"),
      python: interpreter,
      host: "bench-host",
    },
    {
      // The runner logs "started" right after spawn() returned (and the pid was ledgered).
      log: (event, jobId, detail) => {
        if (jobId && event === "started") started.set(jobId, now());
        else if (jobId && (event === "completed" || event === "failed" || event === "cancelled")) {
          ended.add(jobId);
          if (event !== "completed") other.push(`${jobId} ${event}: ${detail ?? ""}`);
        }
        wakeAll();
      },
    },
  );
  await runner.start();

  const seen = new Map<string, bigint>();
  const watcher = watch(queue.outbox, (_event, name) => {
    if (typeof name === "string" && !seen.has(name)) seen.set(name, now());
    wakeAll();
  });

  const toWatch: number[] = [];
  const toSpawn: number[] = [];
  const toFirstLine: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const jobId = makeJobId(`pickup latency bench ${String(i).padStart(3, "0")}`, new Date());
      const dir = join(staging, jobId);
      await mkdir(join(dir, "1_setup"), { recursive: true });
      await writeFile(join(dir, "start_mark.py"), SCRIPT);
      await writeFile(join(dir, "1_setup", "params.json"), `{"thickness_mm": ${6 + i / 100}}\n`);
      const mark = join(marks, `${jobId}.txt`);
      const job: Job = JobSchema.parse({
        job_id: jobId,
        created_at: new Date().toISOString(),
        created_by: "bench",
        project: "pickup-bench",
        channel: "#pickup-bench",
        type: "optimization",
        script: "start_mark.py",
        args: [mark],
        status: "submitted",
        notify: { on_complete: false, on_fail: false },
        schema_version: SCHEMA_VERSION,
        files: await buildManifest(dir, ["1_setup/params.json", "start_mark.py"]),
      });
      await writeJsonAtomic(join(dir, JOB_FILE), job);
      const done = waitFor(`job ${jobId} to finish (runner log: ${other.join("; ")})`, () =>
        ended.has(jobId) && seen.has(jobId) ? true : undefined,
      );
      wakeAll = done.wake;
      const renamed = now();
      await publishDirectory(dir, join(queue.outbox, jobId));
      await done.promise;
      const firstLine = BigInt((await readFile(mark, "utf8")).trim());
      toWatch.push(ms(renamed, seen.get(jobId) as bigint));
      toSpawn.push(ms(renamed, started.get(jobId) as bigint));
      toFirstLine.push(ms(renamed, firstLine));
    }
  } finally {
    watcher.close();
    await runner.stop();
  }
  // What the interpreter itself adds before a script's first line, for reading the third figure.
  const interpreterStart: number[] = [];
  for (let i = 0; i < (quick ? 1 : 10); i++) {
    interpreterStart.push(await timeMs(() => execFileAsync(interpreter, ["-c", "pass"])));
  }

  const spawn = summarize(toSpawn);
  const baseline = summarize(toWatch);
  const first = summarize(toFirstLine);
  const gap = spawn.median - baseline.median;
  return {
    id: "P1",
    what: `pickup latency: small job renamed into outbox -> runner spawned its process; ${count} jobs one at a time, runner in-process (chokidar watch, default 15 s rescan)`,
    figure: `${formatSummary(spawn, "ms")}; script's first line ${formatSummary(first, "ms")}`,
    baseline: `fs.watch notice: ${formatSummary(baseline, "ms", 2)}`,
    ratio: `+${gap.toFixed(1)} ms`,
    goal: `median within ${GOAL_MS} ms of the baseline`,
    verdict: quick ? "n/a" : gap <= GOAL_MS ? "met" : "missed",
    notes: [
      'Clock: process.hrtime (CLOCK_MONOTONIC) taken just before publishDirectory() renames the staged job folder into outbox/; "spawned" is when the runner logs `started` (after spawn() returned and the pid was ledgered); the script writes time.clock_gettime_ns(CLOCK_MONOTONIC) as its first statement.',
      `The script's first line includes the interpreter's own start-up (${interpreter} -c pass: median ${summarize(interpreterStart).median.toFixed(1)} ms), which no runner can remove.`,
      "Between the notice and the spawn the runner reads and validates job.json, checks sizes, copies and hashes the job into its work folder, fsyncs two ledger records and two inbox job.json writes (accepted/queued, started/running).",
    ],
  };
};
