import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import type { Job } from "../../protocol/index.ts";
import { transition, writeJob, writeJsonAtomic } from "../../protocol/index.ts";
import type { LedgerRecord } from "../../runner/ledger.ts";
import { runDir, runFile } from "../../runner/supervisor/run-folder.ts";
import { appendLedgerRecords, readLedgerLines } from "./helpers/ledger-file.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { inboxJob, makeQueue, readText, submitJob, waitFor, waitForStatus } from "./helpers/make-job.ts";
import { startRunner, testConfig } from "./helpers/runner-harness.ts";
import { startRunnerProcess } from "./helpers/runner-process.ts";

// Runs that never launched their script are taken back ("requeued") and must start again, once.

let queue: TestQueue;
beforeEach(async () => {
  queue = await makeQueue();
});
afterEach(async () => {
  await queue.cleanup();
});

const starts = async (counter: string) => (await readText(counter)).split("\n").filter((l) => l !== "");

/** A job accepted but not started: ledger, work copy and inbox/ as intake leaves them. */
async function acceptedJob(counter: string): Promise<Job> {
  // Held, not run: its licence server does not answer.
  const holder = await startRunner(testConfig(queue, "python3", { licenceServer: "1@127.0.0.1" }));
  try {
    const jobId = await submitJob(queue, {
      name: "launch lost",
      fixture: "counted_sleep.py",
      args: [counter, "0"],
    });
    return await waitFor("the licence hold", async () => {
      const job = await inboxJob(queue, jobId);
      return job?.waiting_for ? job : undefined;
    });
  } finally {
    await holder.runner.stop();
  }
}

// inbox/ says running in both; only the ledger tells a start taken back from one it never recorded.
test.each([
  {
    name: "a start taken back because its script never launched, then a kill before it started again: it runs once",
    takenBack: true,
    want: { status: "completed", exit_code: 0 },
    log: "queued again: started before a restart, but its script was never launched",
    starts: 1,
  },
  {
    name: "a start the ledger never recorded: not run, to be safe",
    takenBack: false,
    want: { status: "failed", error: { kind: "internal" } },
    log: "disagreement: inbox/ says running but the ledger never recorded a start",
    starts: 0,
  },
])("inbox/ running, ledger not started: $name", async ({ takenBack, want, log, starts: count }) => {
  const counter = path.join(queue.scratch, "starts.txt");
  const queued = await acceptedJob(counter);
  const jobId = queued.job_id;

  // takenBack is what the race leaves: a runner ledgered the start, published running, wrote the request,
  // and was SIGKILLed before the supervisor launched the script; the next runner withdrew the request
  // (the supervisor then exited without running anything), ledgered the take-back, and was killed
  // before it started the job again. inbox/ still says running: a job.json never goes back to queued.
  const startedAt = new Date(Date.now() - 2000).toISOString();
  const requeuedAt = new Date(Date.now() - 1000).toISOString();
  const records: LedgerRecord[] = [
    { event: "started", job_id: jobId, at: startedAt, supervised: true },
    {
      event: "requeued",
      job_id: jobId,
      at: requeuedAt,
      reason: "the runner stopped before the script was launched",
    },
  ];
  if (takenBack) await appendLedgerRecords(queue.state, records);
  await writeJob(
    path.join(queue.paths.inbox, jobId),
    transition(queued, "running", { runner: queued.runner, heartbeat_at: startedAt, waiting_for: undefined }),
  );
  const dir = runDir(queue.work, jobId);
  await mkdir(dir, { recursive: true });
  await writeJsonAtomic(runFile(dir, "abandoned"), {
    job_id: jobId,
    run_token: "0123456789abcdef01234567",
    command: "python3",
    args: [path.join(queue.work, jobId, "counted_sleep.py"), counter, "0"],
    windows_verbatim: false,
    cwd: path.join(queue.work, jobId),
    log_path: path.join(queue.work, jobId, "stdout.log"),
    created_at: startedAt,
  });
  await writeFile(runFile(dir, "log"), `${requeuedAt} not run: the run request was withdrawn\n`);

  const next = startRunnerProcess(queue, ["--once"]);
  expect(await next.exited, next.output()).toBe(0);
  expect(next.output()).toContain(`${jobId} ${log}`);
  expect(await inboxJob(queue, jobId)).toMatchObject(want);
  expect((await starts(counter)).length).toBe(count);
});

/** A preload (NODE_OPTIONS) that ends the job's supervisor before it claims its request, the first `deaths` times. */
async function dyingSupervisors(deaths: number): Promise<{ options: string; count: () => Promise<number> }> {
  const counter = path.join(queue.scratch, "supervisor-deaths.txt");
  const preload = path.join(queue.scratch, "die-early.cjs");
  await writeFile(
    preload,
    `const fs = require("node:fs");
if ((process.argv[1] ?? "").includes("supervisor-main")) {
  const died = fs.existsSync(${JSON.stringify(counter)}) ? fs.readFileSync(${JSON.stringify(counter)}, "utf8").length : 0;
  if (died < ${deaths}) {
    fs.appendFileSync(${JSON.stringify(counter)}, "x");
    process.stderr.write("supervisor killed before its claim (test)\\n");
    process.exit(1);
  }
}
`,
  );
  return { options: `--require ${preload}`, count: async () => (await readText(counter)).length };
}

test.each([
  { deaths: 1, status: "completed", starts: 1, requeued: 1 },
  { deaths: 99, status: "failed", starts: 0, requeued: 3 },
])(
  "a supervisor that dies before launching the script $deaths time(s): the job is queued again, at most 3 times ($status)",
  async (want) => {
    const counter = path.join(queue.scratch, "starts.txt");
    const dying = await dyingSupervisors(want.deaths);
    const saved = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = dying.options;
    const running = await startRunner(testConfig(queue, "python3"));
    try {
      const jobId = await submitJob(queue, {
        name: "supervisor dies",
        fixture: "counted_sleep.py",
        args: [counter, "0"],
      });
      const done = await waitForStatus(queue, jobId, ["completed", "failed", "cancelled"]);
      expect(done.status).toBe(want.status);
      if (want.status === "failed") {
        expect(done.error?.kind).toBe("spawn_error");
        expect(done.error?.message).toContain(
          "supervisor killed before its claim (test)), at each of 4 tries",
        );
      }
      expect(await starts(counter)).toEqual(want.starts ? [jobId] : []);
      const ledger = readLedgerLines(queue.state);
      expect(ledger.filter((l) => l.includes('"requeued"')).length).toBe(want.requeued);
      expect(await dying.count()).toBe(Math.min(want.deaths, want.requeued + 1));
    } finally {
      process.env.NODE_OPTIONS = saved;
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      await running.stop();
    }
  },
);
