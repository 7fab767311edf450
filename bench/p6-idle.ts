import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { pathExists } from "../protocol/index.ts";
import { openLedger } from "../runner/ledger.ts";
import type { Benchmark, BenchResult } from "./bench-result.ts";
import { generateQueue } from "./generate-queue.ts";
import { BIN, openMcpSession, REPO, warmIndex } from "./mcp-session.ts";
import { cpuSeconds, inotifyWatches, memoryStatus } from "./proc-stats.ts";
import { describeWritten } from "./queue-notes.ts";

const CPU_GOAL_S_PER_MIN = 0.2;
/** Over the empty queue's figure: memory must not grow with the history the queue holds. */
const RSS_GOAL_OVER_EMPTY_MB = 50;
const RUNNER_HOST = "bench-idle-runner";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Reading {
  cpuS: number;
  rssMb: number;
  peakRssMb: number;
  watches: number;
}

async function read(pid: number): Promise<Reading> {
  const [cpuS, memory, watches] = await Promise.all([
    cpuSeconds(pid),
    memoryStatus(pid),
    inotifyWatches(pid),
  ]);
  return { cpuS, ...memory, watches };
}

interface Idle {
  /** CPU seconds per minute over the window. */
  cpuPerMin: number;
  end: Reading;
  seconds: number;
  /** CPU spent before the window (start-up), not counted. */
  startCpuS: number;
}

interface IdleRun {
  server: Idle;
  runner: Idle;
  handshakeMs: number;
}

interface IdleSetup {
  /** The queue, and the folder (in scratch) for everything the two processes keep besides it. */
  root: string;
  own: string;
  /** The runner's state folder, holding the ledger of every job in the queue. */
  stateDir: string;
  python: string;
  settleMs: number;
  windowMs: number;
}

/** Starts the MCP server (a real client connected, no calls) and a runner on `root`, lets them settle, then watches them idle. */
async function measureIdle(setup: IdleSetup, log: (line: string) => void): Promise<IdleRun> {
  const { root, own, stateDir, python, settleMs, windowMs } = setup;
  // Both sides start as they do every day after the first: the server's index built, the runner's
  // ledger a database (a ledger.jsonl of an earlier runner is imported once, at its first start).
  await warmIndex(root, join(own, "server-state"));
  await (await openLedger(stateDir)).close();
  const session = await openMcpSession(["--queue", root, "--work", join(own, "server-work")], {
    stateDir: join(own, "server-state"),
  });
  const runner = spawn(
    process.execPath,
    [BIN, "runner", "--queue", root, "--work", join(own, "runner-work"), "--state", stateDir].concat([
      "--host",
      RUNNER_HOST,
      "--python",
      python,
    ]),
    { cwd: REPO, stdio: ["ignore", "ignore", "pipe"] },
  );
  let runnerLog = "";
  runner.stderr?.on("data", (chunk: Buffer) => {
    runnerLog += chunk.toString();
  });
  try {
    const heartbeat = join(root, "inbox", ".runners", `${RUNNER_HOST}.json`);
    const deadline = Date.now() + 120_000;
    while (!(await pathExists(heartbeat))) {
      if (runner.exitCode !== null || Date.now() > deadline)
        throw new Error(`P6: the runner did not start: ${runnerLog}`);
      await sleep(100);
    }
    const runnerPid = runner.pid as number;
    const startCpu = { server: await cpuSeconds(session.pid), runner: await cpuSeconds(runnerPid) };
    await sleep(settleMs);
    const before = { server: await read(session.pid), runner: await read(runnerPid) };
    log(`P6: ${basename(own)} queue: measuring ${windowMs / 1000} s of idleness`);
    const t0 = process.hrtime.bigint();
    await sleep(windowMs);
    const after = { server: await read(session.pid), runner: await read(runnerPid) };
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const intake = (runnerLog.match(/ (queued|failed|cancelled|started)(:|\n)/g) ?? []).length;
    if (intake > 0)
      throw new Error(`P6: the runner picked up jobs, so it was not idle: ${runnerLog.slice(-2000)}`);
    const idle = (name: "server" | "runner"): Idle => ({
      cpuPerMin: ((after[name].cpuS - before[name].cpuS) * 60) / seconds,
      end: after[name],
      seconds,
      startCpuS: startCpu[name],
    });
    return { server: idle("server"), runner: idle("runner"), handshakeMs: session.startMs };
  } finally {
    if (runner.exitCode === null) {
      runner.kill("SIGTERM");
      await once(runner, "exit");
    }
    await session.close();
  }
}

function describe(idle: Idle): string {
  const { end } = idle;
  return `CPU ${idle.cpuPerMin.toFixed(3)} s/min; RSS ${end.rssMb.toFixed(0)} MB (peak ${end.peakRssMb.toFixed(0)} MB); ${end.watches} inotify watches`;
}

/**
 * P6: the MCP server (stdio, a real client connected, no calls) and a runner (its own process, default
 * heartbeat 10 s and rescan 15 s) over a queue of 100,000 jobs the runner has all handled; after both
 * have settled, CPU time and RSS of each over 60 s of idleness. Beside it, the same two processes on an
 * empty queue: what Node and the dependencies cost before any job.
 */
export const idleBenchmark: Benchmark = async ({ quick, scratch, queues, python, log }) => {
  const jobs = quick ? 300 : 100_000;
  const windowMs = quick ? 3_000 : 60_000;
  const settleMs = quick ? 1_000 : 20_000;
  const interpreter = python ?? "python3";
  const count = jobs.toLocaleString("en-US");

  const emptyOwn = join(scratch, "empty");
  const emptyState = join(emptyOwn, "runner-state");
  await generateQueue(join(emptyOwn, "queue"), 0, "idle", emptyState);
  log("P6: baseline: server and runner on an empty queue");
  const empty = await measureIdle(
    {
      root: join(emptyOwn, "queue"),
      own: emptyOwn,
      stateDir: emptyState,
      python: interpreter,
      settleMs: quick ? 500 : 5_000,
      windowMs: quick ? 1_000 : 20_000,
    },
    log,
  );

  // The runner writes its heartbeat into the queue: it gets the queue to itself, and gives it back.
  const queue = await queues.lease({ count: jobs, mix: "idle" });
  const fullOwn = join(scratch, "full");
  const stateDir = join(fullOwn, "runner-state");
  await mkdir(stateDir, { recursive: true });
  await copyFile(queue.ledger as string, join(stateDir, "ledger.jsonl"));
  let full: IdleRun;
  try {
    full = await measureIdle(
      { root: queue.root, own: fullOwn, stateDir, python: interpreter, settleMs, windowMs },
      log,
    );
  } finally {
    log(`P6: ${await queue.giveBack([`${RUNNER_HOST}.json`])}`);
  }

  const row = (name: "server" | "runner", what: string): BenchResult => {
    const idle = full[name];
    const over = idle.end.rssMb - empty[name].end.rssMb;
    const met = idle.cpuPerMin <= CPU_GOAL_S_PER_MIN && over <= RSS_GOAL_OVER_EMPTY_MB;
    return {
      id: `P6 ${name}`,
      what: `idle ${what} over a queue of ${count} jobs, ${Math.round(idle.seconds)} s`,
      figure: describe(idle),
      baseline: `empty queue, ${Math.round(empty[name].seconds)} s: ${describe(empty[name])}`,
      ratio: `RSS +${over.toFixed(0)} MB`,
      goal: `CPU <= ${CPU_GOAL_S_PER_MIN} s per minute; RSS within ${RSS_GOAL_OVER_EMPTY_MB} MB of the empty queue`,
      verdict: quick ? "n/a" : met ? "met" : "missed",
      notes: [],
    };
  };
  const server = row("server", "MCP server (stdio, client connected, no calls)");
  const runner = row("runner", "runner (default heartbeat 10 s, rescan 15 s)");
  server.notes.push(
    `The queue (bench/generate-queue.ts, "idle" mix): two thirds finished jobs in outbox/ + inbox/ (completed or failed, each in the runner's ledger), one third archived (ledgered as cleaned), so the runner has nothing to pick up; the run fails if it picks up anything; ${describeWritten(queue)}; the runner got a copy of the ledger in a state folder of its own (imported into its ledger.db before the runner starts, as its first start would), and the server a state folder of its own (ATOMIZER_STATE_DIR) whose index one \`atomizer-jobs list\` built first.`,
    `CPU is utime + stime from /proc/<pid>/stat over the measured window (clock-tick resolution 0.01 s), after the runner's heartbeat file appeared and a further ${settleMs / 1000} s settle. Start-up, not counted: server handshake ${(full.handshakeMs / 1000).toFixed(1)} s, CPU by the time the runner was up: server ${full.server.startCpuS.toFixed(2)} s, runner ${full.runner.startCpuS.toFixed(2)} s. RSS is VmRSS at the end, peak is VmHWM.`,
  );
  return [server, runner];
};
