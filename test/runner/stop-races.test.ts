import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "vitest";
import { launchSupervisor } from "../../runner/supervisor/launch-supervisor.ts";
import { runDir } from "../../runner/supervisor/run-folder.ts";
import { RunStateSchema } from "../../runner/supervisor/run-schemas.ts";
import { currentRunFile } from "../../runner/supervisor/run-view.ts";
import { isProcessAlive } from "../../runner/tree-kill.ts";
import { replaceLedger } from "./helpers/ledger-file.ts";
import {
  FIXTURES,
  inboxJob,
  readText,
  requestCancel,
  submitJob,
  waitFor,
  waitForStatus,
} from "./helpers/make-job.ts";
import { testConfig } from "./helpers/runner-harness.ts";
import { startRunnerProcess, processTest as test } from "./helpers/runner-process.ts";

test("a cancel the moment a job is running (before its supervisor launched it) ends it cancelled; the runner stays responsive", async ({
  queue,
  startRunner,
}) => {
  await startRunner(testConfig(queue, "python3", { slots: 3 }));
  const counter = path.join(queue.scratch, "starts.txt");
  const ids = [];
  for (let i = 0; i < 3; i++)
    ids.push(
      await submitJob(queue, {
        name: `cancel at once ${i}`,
        fixture: "counted_sleep.py",
        args: [counter, "30"],
      }),
    );
  for (const jobId of ids) {
    await waitForStatus(queue, jobId, ["running"]);
    await requestCancel(queue, jobId, "right away");
  }
  for (const jobId of ids) {
    expect(await waitForStatus(queue, jobId, ["cancelled", "failed", "completed"], 20_000)).toMatchObject({
      status: "cancelled",
    });
  }
  // The runner still answers: a new job runs to the end.
  const after = await submitJob(queue, {
    name: "after the cancels",
    fixture: "counted_sleep.py",
    args: [counter, "0"],
  });
  expect(await waitForStatus(queue, after, ["completed", "failed"])).toMatchObject({ status: "completed" });
});

test("after a reboot the recorded script pid may be a stranger's: recovery never kills it", async ({
  queue,
  strays,
}) => {
  const first = startRunnerProcess(queue);
  const counter = path.join(queue.scratch, "starts.txt");
  const jobId = await submitJob(queue, {
    name: "power cut",
    fixture: "counted_sleep.py",
    args: [counter, "60"],
  });
  await waitForStatus(queue, jobId, ["running"]);
  const stateFile = await currentRunFile(runDir(queue.work, jobId), "state");
  const state = RunStateSchema.parse(
    JSON.parse(
      await waitFor("the script's pid", async () => {
        const text = await readText(stateFile);
        return text && RunStateSchema.parse(JSON.parse(text)).child ? text : undefined;
      }),
    ),
  );
  first.child.kill("SIGKILL");
  await first.exited;
  // The power cut: supervisor and script gone. After the reboot another program holds a recorded pid.
  process.kill(state.supervisor.pid, "SIGKILL");
  process.kill(-(state.child?.pid ?? 0), "SIGKILL");
  const stranger = spawn("sleep", ["60"], { detached: true, stdio: "ignore" });
  strays.push(stranger.pid ?? 0);
  await writeFile(
    stateFile,
    JSON.stringify({ ...state, child: { pid: stranger.pid, start: state.child?.start } }),
  );
  const second = startRunnerProcess(queue, ["--once"]);
  expect(await second.exited, second.output()).toBe(0);
  expect(await inboxJob(queue, jobId)).toMatchObject({ status: "failed", error: { kind: "runner_restart" } });
  expect(await isProcessAlive(stranger.pid ?? 0)).toBe(true);
  expect(second.output()).toContain("not killed by pid");
});

test("a runner whose ledger lacks a run that inbox/ shows running takes it over instead of hanging", async ({
  queue,
}) => {
  const first = startRunnerProcess(queue);
  const counter = path.join(queue.scratch, "starts.txt");
  const jobId = await submitJob(queue, {
    name: "old ledger",
    fixture: "counted_sleep.py",
    args: [counter, "1"],
  });
  await waitForStatus(queue, jobId, ["running"]);
  first.child.kill("SIGKILL");
  await first.exited;
  await waitFor("the outcome", async () =>
    readText(await currentRunFile(runDir(queue.work, jobId), "outcome")).then((t) => t || undefined),
  );
  // An older copy of the ledger (not empty, so no rebuild) that never heard of the job.
  const other = "job-20200101-000000-unrelated";
  await replaceLedger(queue.state, [
    {
      event: "imported",
      job_id: other,
      at: new Date().toISOString(),
      inbox_status: "completed",
      status: "completed",
    },
  ]);
  const second = startRunnerProcess(queue, ["--once"]);
  const code = await Promise.race([
    second.exited,
    new Promise((resolve) => setTimeout(() => resolve("hung"), 20_000)),
  ]);
  if (code === "hung") second.child.kill("SIGKILL");
  expect(code, second.output()).toBe(0);
  expect(await inboxJob(queue, jobId)).toMatchObject({ status: "completed", exit_code: 0 });
  expect(await readFile(counter, "utf8")).toBe(`${jobId}\n`);
});

test("a supervisor whose run folder was removed ends when its script does, instead of retrying forever", async ({
  queue,
}) => {
  const dir = path.join(queue.work, ".runs", "job-20260101-000000-orphan");
  const launched = await launchSupervisor(
    dir,
    {
      job_id: "job-20260101-000000-orphan",
      run_token: "token-orphan-0001",
      command: "python3",
      args: [path.join(FIXTURES, "sleeper.py"), "1.5"],
      windows_verbatim: false,
      cwd: queue.scratch,
      log_path: path.join(queue.scratch, "orphan.log"),
      created_at: new Date().toISOString(),
    },
    process.env,
  );
  await waitFor("the launch", async () =>
    readText(await currentRunFile(dir, "launched")).then((t) => t || undefined),
  );
  // The supervisor may be writing into the folder as it goes: retry on ENOTEMPTY.
  await rm(dir, { recursive: true, force: true, maxRetries: 10 });
  await waitFor("the supervisor to end", async () => !(await isProcessAlive(launched.pid ?? 0)), 15_000);
});
