import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { LEDGER_FILE, parseLedger } from "../../runner/ledger.ts";
import { isProcessAlive } from "../../runner/tree-kill.ts";
import { BIN } from "../helpers/atomizer-jobs.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import {
  folderArgs,
  inboxJob,
  makeQueue,
  readText,
  submitJob,
  waitFor,
  waitForStatus,
} from "./helpers/make-job.ts";

let queue: TestQueue;
beforeEach(async () => {
  queue = await makeQueue();
});
afterEach(async () => {
  await queue.cleanup();
});

function runnerArgs(extra: string[] = []): string[] {
  return [
    BIN,
    "runner",
    ...folderArgs(queue),
    "--python",
    "python3",
    "--heartbeat",
    "0.5",
    "--rescan",
    "0.3",
    "--host",
    "restart-host",
    ...extra,
  ];
}

function startRunnerProcess(extra: string[] = []) {
  const child = spawn(process.execPath, runnerArgs(extra), { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}

test("a runner killed with SIGKILL mid-job: the job fails with runner_restart, its tree is stopped, queued jobs still run, nothing runs twice", async () => {
  const pidFile = path.join(queue.scratch, "grandchild.pid");
  const counter = path.join(queue.scratch, "runs.txt");
  const first = startRunnerProcess();
  let busy = "";
  let waiting = "";
  try {
    busy = await submitJob(queue, {
      name: "solver interrupted",
      fixture: "spawn_grandchild.py",
      args: [pidFile, counter],
    });
    await waitForStatus(queue, busy, ["running"]);
    waiting = await submitJob(queue, {
      name: "queued before crash",
      fixture: "interleave.py",
      args: [counter],
    });
    await waitForStatus(queue, waiting, ["queued"]);
    await waitFor("the grandchild pid", () => readText(pidFile).then((t) => t || undefined));
  } finally {
    first.child.kill("SIGKILL");
    await first.exited;
  }
  const grandchild = Number(await readFile(pidFile, "utf8"));
  const ledger = parseLedger(await readFile(path.join(queue.state, LEDGER_FILE), "utf8"));
  const script = ledger.get(busy)?.pid ?? 0;
  expect(script).toBeGreaterThan(0);
  // SIGKILL gives the runner no chance to stop its jobs: the detached script and its grandchild live on.
  expect(await isProcessAlive(script)).toBe(true);
  expect(await isProcessAlive(grandchild)).toBe(true);
  // A crash mid-append leaves a torn last line; the restart must shrug it off.
  await writeFile(path.join(queue.state, LEDGER_FILE), '{"event":"finished","job_id":"', { flag: "a" });

  const second = startRunnerProcess(["--once"]);
  expect(await second.exited, second.output()).toBe(0);
  const failed = await inboxJob(queue, busy);
  expect(failed).toMatchObject({ status: "failed", error: { kind: "runner_restart" } });
  expect(failed?.error?.message).toContain("was still running and has been stopped");
  expect(await isProcessAlive(script)).toBe(false);
  await waitFor("the grandchild to be gone", async () => !(await isProcessAlive(grandchild)));
  expect(await inboxJob(queue, waiting), second.output()).toMatchObject({ status: "completed" });
  expect((await readText(counter)).trim().split("\n")).toEqual([busy, waiting]);

  // A third start finds nothing to do: neither job runs again.
  const third = startRunnerProcess(["--once"]);
  expect(await third.exited, third.output()).toBe(0);
  expect((await readText(counter)).trim().split("\n")).toEqual([busy, waiting]);
  expect((await inboxJob(queue, busy))?.seq).toBe(failed?.seq);
});

test("SIGTERM stops the runner cleanly: the running job's tree is stopped and it fails with runner_restart", async () => {
  const pidFile = path.join(queue.scratch, "grandchild.pid");
  const runner = startRunnerProcess();
  const jobId = await submitJob(queue, {
    name: "stopped by service",
    fixture: "spawn_grandchild.py",
    args: [pidFile],
  });
  await waitForStatus(queue, jobId, ["running"]);
  const grandchild = Number(
    await waitFor("the grandchild pid", () => readText(pidFile).then((t) => t || undefined)),
  );
  runner.child.kill("SIGTERM");
  expect(await runner.exited, runner.output()).toBe(0);
  expect(await inboxJob(queue, jobId)).toMatchObject({ status: "failed", error: { kind: "runner_restart" } });
  await waitFor("the grandchild to be gone", async () => !(await isProcessAlive(grandchild)));
  expect(runner.output()).toMatch(/runner stopped\n$/);
});
