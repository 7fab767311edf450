import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "vitest";
import { RunnerHeartbeatSchema } from "../../protocol/index.ts";
import { LEGACY_LEDGER_FILE } from "../../runner/ledger.ts";
import { runDir } from "../../runner/supervisor/run-folder.ts";
import { RunStateSchema } from "../../runner/supervisor/run-schemas.ts";
import { currentRunFile } from "../../runner/supervisor/run-view.ts";
import { isProcessAlive } from "../../runner/tree-kill.ts";
import type { CliProcess } from "../helpers/atomizer-jobs.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { inboxJob, readText, requestCancel, submitJob, waitFor, waitForStatus } from "./helpers/make-job.ts";
import { startRunnerProcess, processTest as test } from "./helpers/runner-process.ts";

/** A runner process on two slots, under the host name whose heartbeat a test reads back. */
function restartRunner(queue: TestQueue, extra: string[] = [], folders?: string[], cwd?: string) {
  return startRunnerProcess(queue, ["--host", "restart-host", "--slots", "2", ...extra], {
    heartbeatS: 0.5,
    folders,
    cwd,
  });
}

async function kill9(runner: CliProcess): Promise<void> {
  runner.child.kill("SIGKILL");
  await runner.exited;
}

/** The run's state once its supervisor recorded the script; both are strays of the test. */
async function runState(queue: TestQueue, strays: number[], jobId: string) {
  const text = await waitFor(`${jobId}'s supervisor to record the script`, async () => {
    const raw = await readText(await currentRunFile(runDir(queue.work, jobId), "state"));
    return raw && RunStateSchema.parse(JSON.parse(raw)).child ? raw : undefined;
  });
  const state = RunStateSchema.parse(JSON.parse(text));
  strays.push(state.supervisor.pid);
  if (state.child) strays.push(state.child.pid);
  return state;
}

const starts = async (counter: string) => (await readText(counter)).split("\n").filter((l) => l !== "");

test("a runner SIGKILLed mid-run: the running job finishes completed and started once, the one that ended meanwhile keeps its real end, queued jobs still run", async ({
  queue,
  strays,
}) => {
  const counter = path.join(queue.scratch, "starts.txt");
  const first = restartRunner(queue);
  const busy = await submitJob(queue, {
    name: "long study",
    fixture: "counted_sleep.py",
    args: [counter, "3"],
  });
  const quick = await submitJob(queue, {
    name: "quick failure",
    fixture: "counted_sleep.py",
    args: [counter, "0.5", "3"],
  });
  await waitForStatus(queue, busy, ["running"]);
  await waitForStatus(queue, quick, ["running"]);
  const third = await submitJob(queue, {
    name: "waits for a slot",
    fixture: "counted_sleep.py",
    args: [counter, "0"],
  });
  await waitForStatus(queue, third, ["queued"]);
  await waitFor("both scripts to start", async () =>
    (await starts(counter)).length === 2 ? true : undefined,
  );
  const busyState = await runState(queue, strays, busy);
  await kill9(first);

  // While no runner runs, the quick one ends; its supervisor records how.
  await waitFor("the quick job's outcome", async () =>
    readText(await currentRunFile(runDir(queue.work, quick), "outcome")).then((t) => t || undefined),
  );
  expect(await isProcessAlive(busyState.supervisor.pid)).toBe(true);
  expect((await inboxJob(queue, busy))?.status).toBe("running");

  const second = restartRunner(queue, ["--once"]);
  expect(await second.exited, second.output()).toBe(0);
  expect(second.output()).toContain(`${busy} adopted`);
  expect(await inboxJob(queue, busy)).toMatchObject({ status: "completed", exit_code: 0 });
  expect(await readText(path.join(queue.paths.inbox, busy, "stdout.log"))).toMatch(/last line\n$/);
  expect(await inboxJob(queue, quick)).toMatchObject({
    status: "failed",
    exit_code: 3,
    error: { kind: "exit_code" },
  });
  expect(await inboxJob(queue, third)).toMatchObject({ status: "completed" });
  expect((await starts(counter)).sort()).toEqual([busy, quick, third].sort());

  // A third start finds nothing to do.
  const again = restartRunner(queue, ["--once"]);
  expect(await again.exited, again.output()).toBe(0);
  expect((await starts(counter)).length).toBe(3);
});

test("a run whose supervisor died too (power loss) ends runner_restart and what is left of its tree is stopped", async ({
  queue,
  strays,
}) => {
  const pidFile = path.join(queue.scratch, "grandchild.pid");
  const first = restartRunner(queue);
  const jobId = await submitJob(queue, {
    name: "power loss",
    fixture: "spawn_grandchild.py",
    args: [pidFile],
  });
  await waitForStatus(queue, jobId, ["running"]);
  const grandchild = Number(
    await waitFor("the grandchild pid", () => readText(pidFile).then((t) => t || undefined)),
  );
  strays.push(grandchild);
  const state = await runState(queue, strays, jobId);
  await kill9(first);
  process.kill(state.supervisor.pid, "SIGKILL");
  await waitFor("the supervisor to be gone", async () => !(await isProcessAlive(state.supervisor.pid)));
  expect(await isProcessAlive(state.child?.pid ?? 0)).toBe(true);
  // A crash mid-append of an older runner leaves a torn last line in its ledger.jsonl, taken in at the
  // next start; the restart must shrug it off (a torn transaction of the database is SQLite's to undo).
  await writeFile(path.join(queue.state, LEGACY_LEDGER_FILE), '{"event":"finished","job_id":"', {
    flag: "a",
  });

  const second = restartRunner(queue, ["--once"]);
  expect(await second.exited, second.output()).toBe(0);
  const failed = await inboxJob(queue, jobId);
  expect(failed).toMatchObject({ status: "failed", exit_code: null, error: { kind: "runner_restart" } });
  expect(failed?.error?.message).toContain("supervisor is gone without recording");
  await waitFor("the script to be gone", async () => !(await isProcessAlive(state.child?.pid ?? 0)));
  await waitFor("the grandchild to be gone", async () => !(await isProcessAlive(grandchild)));
});

test("SIGTERM detaches: the job keeps running, the next start takes it over, and cancel still stops the whole tree", async ({
  queue,
  strays,
}) => {
  const pidFile = path.join(queue.scratch, "grandchild.pid");
  const first = restartRunner(queue);
  const jobId = await submitJob(queue, {
    name: "service restart",
    fixture: "spawn_grandchild.py",
    args: [pidFile],
  });
  await waitForStatus(queue, jobId, ["running"]);
  const grandchild = Number(
    await waitFor("the grandchild pid", () => readText(pidFile).then((t) => t || undefined)),
  );
  strays.push(grandchild);
  await runState(queue, strays, jobId);
  first.child.kill("SIGTERM");
  expect(await first.exited, first.output()).toBe(0);
  expect(first.output()).toContain("keep running under their supervisors");
  const beat = RunnerHeartbeatSchema.parse(
    JSON.parse(await readText(path.join(queue.paths.inbox, ".runners", "restart-host.json"))),
  );
  expect(beat.stopped_at).toBeDefined();
  expect(beat.running).toEqual([jobId]);
  expect(await isProcessAlive(grandchild)).toBe(true);

  const second = restartRunner(queue);
  try {
    await waitFor("the adoption", () => (second.output().includes(`${jobId} adopted`) ? true : undefined));
    await requestCancel(queue, jobId, "stop the adopted run");
    const done = await waitForStatus(queue, jobId, ["cancelled", "failed", "completed"]);
    expect(done).toMatchObject({ status: "cancelled", error: { kind: "cancelled" } });
    await waitFor("the grandchild to be gone", async () => !(await isProcessAlive(grandchild)));
  } finally {
    second.child.kill("SIGTERM");
    await second.exited;
  }
});

test("a time limit counts from the real start, across a restart", async ({ queue, strays }) => {
  const counter = path.join(queue.scratch, "starts.txt");
  const first = restartRunner(queue);
  const jobId = await submitJob(queue, {
    name: "overruns",
    fixture: "counted_sleep.py",
    args: [counter, "60"],
    timeout_s: 2,
  });
  await waitForStatus(queue, jobId, ["running"]);
  const state = await runState(queue, strays, jobId);
  await kill9(first);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const second = restartRunner(queue, ["--once"]);
  expect(await second.exited, second.output()).toBe(0);
  const done = await inboxJob(queue, jobId);
  expect(done).toMatchObject({ status: "failed", error: { kind: "timeout" } });
  expect(done?.error?.message).toContain("limit of 2 s");
  expect(await isProcessAlive(state.child?.pid ?? 0)).toBe(false);
  expect(await starts(counter)).toEqual([jobId]);
});

test("a second runner with a fresh state folder runs none of the jobs inbox/ shows as taken", async ({
  queue,
}) => {
  const counter = path.join(queue.scratch, "starts.txt");
  const ok = await submitJob(queue, {
    name: "finished ok",
    fixture: "counted_sleep.py",
    args: [counter, "0"],
  });
  const bad = await submitJob(queue, {
    name: "finished badly",
    fixture: "counted_sleep.py",
    args: [counter, "0", "2"],
  });
  const first = restartRunner(queue, ["--once"]);
  expect(await first.exited, first.output()).toBe(0);
  const before = [await inboxJob(queue, ok), await inboxJob(queue, bad)];
  expect(before.map((j) => j?.status)).toEqual(["completed", "failed"]);

  const other = path.join(queue.base, "elsewhere");
  const folders = ["--queue", queue.paths.root, "--work", `${other}/work`, "--state", `${other}/state`];
  const second = restartRunner(queue, ["--once"], folders);
  expect(await second.exited, second.output()).toBe(0);
  expect(second.output()).toContain("ledger rebuilt from inbox/");
  expect((await starts(counter)).sort()).toEqual([ok, bad].sort());
  expect([(await inboxJob(queue, ok))?.seq, (await inboxJob(queue, bad))?.seq]).toEqual(
    before.map((j) => j?.seq),
  );
  expect((await inboxJob(queue, bad))?.status).toBe("failed");
});

test("relative --queue, --work and --state are resolved once at start", async ({ queue }) => {
  const counter = path.join(queue.scratch, "starts.txt");
  const jobId = await submitJob(queue, {
    name: "relative folders",
    fixture: "counted_sleep.py",
    args: [counter, "0"],
  });
  const relative = [
    "--queue",
    path.relative(queue.base, queue.paths.root),
    "--work",
    "work",
    "--state",
    "state",
  ];
  const runner = restartRunner(queue, ["--once"], relative, queue.base);
  expect(await runner.exited, runner.output()).toBe(0);
  expect(await inboxJob(queue, jobId)).toMatchObject({ status: "completed", exit_code: 0 });
  expect(runner.output()).toContain(`work ${queue.work}`);
  expect(await readFile(counter, "utf8")).toBe(`${jobId}\n`);
});
