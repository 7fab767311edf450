import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { spawnJob } from "../../runner/job-process.ts";
import { isProcessAlive, windowsTreeKillArgs } from "../../runner/tree-kill.ts";
import { FIXTURES, readText, waitFor } from "./helpers/make-job.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "atomizer-process-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test.each([
  { name: "graceful", graceMs: 2000 },
  { name: "immediate", graceMs: 0 },
])("kill() stops the script and its grandchild ($name)", async ({ graceMs }) => {
  const pidFile = path.join(dir, "grandchild.pid");
  const job = await spawnJob({
    invocation: { command: "python3", args: [path.join(FIXTURES, "spawn_grandchild.py"), pidFile] },
    cwd: dir,
    env: { ...process.env, ATOMIZER_JOB_ID: "job-test", PYTHONUNBUFFERED: "1" },
    logPath: path.join(dir, "stdout.log"),
    killGraceMs: graceMs,
  });
  const grandchild = Number(
    await waitFor("the grandchild pid", () => readText(pidFile).then((t) => t || undefined)),
  );
  expect(await isProcessAlive(grandchild)).toBe(true);
  await job.kill();
  const exit = await job.exited;
  expect(exit.code === null || exit.code !== 0).toBe(true);
  await waitFor("the grandchild to be gone", async () => !(await isProcessAlive(grandchild)));
  expect(await readFile(path.join(dir, "stdout.log"), "utf8")).toContain(`grandchild ${grandchild} started`);
});

test("an interpreter that does not exist is a spawn error, not a crash", async () => {
  const job = await spawnJob({
    invocation: { command: path.join(dir, "no-such-python"), args: ["x.py"] },
    cwd: dir,
    env: process.env,
    logPath: path.join(dir, "stdout.log"),
    killGraceMs: 0,
  });
  const exit = await job.exited;
  expect(exit.spawnError).toContain("ENOENT");
});

test("Windows tree kill uses taskkill /T /F", () => {
  expect(windowsTreeKillArgs(1234)).toEqual(["/pid", "1234", "/T", "/F"]);
});
