import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { identify } from "../../protocol/process-identity.ts";
import { isProcessAlive, killTree, windowsTreeKillArgs } from "../../runner/tree-kill.ts";
import { FIXTURES, readText, waitFor } from "./helpers/make-job.ts";

let dir: string;
const spawned: number[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "atomizer-kill-"));
});
afterEach(async () => {
  for (const pid of spawned.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone, as it should be.
    }
  }
  await rm(dir, { recursive: true, force: true });
});

function startScript(fixture: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn("python3", [path.join(FIXTURES, fixture), ...args], {
    detached: true,
    stdio: "ignore",
    env,
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (child.pid === undefined) throw new Error("python3 did not start");
  spawned.push(child.pid);
  return { pid: child.pid, exited };
}

async function grandchildOf(pidFile: string): Promise<number> {
  const pid = Number(
    await waitFor("the grandchild pid", () => readText(pidFile).then((t) => t || undefined)),
  );
  spawned.push(pid);
  return pid;
}

test.each([
  { name: "graceful", graceMs: 2000 },
  { name: "immediate", graceMs: 0 },
])("POSIX: the script's process group goes, grandchild included ($name)", async ({ graceMs }) => {
  const pidFile = path.join(dir, "grandchild.pid");
  const script = startScript("spawn_grandchild.py", [pidFile]);
  const grandchild = await grandchildOf(pidFile);
  const report = await killTree(await identify(script.pid), { graceMs, exited: script.exited });
  expect(report.survivors).toEqual([]);
  await waitFor("the grandchild to be gone", async () => !(await isProcessAlive(grandchild)));
});

test("Linux: a descendant that left the process group (its own session) is found by the run token and killed", async () => {
  const pidFile = path.join(dir, "grandchild.pid");
  const token = { name: "ATOMIZER_RUN_TOKEN", value: "test-token-escape-1" };
  const script = startScript("escape_session.py", [pidFile], { ...process.env, [token.name]: token.value });
  const grandchild = await grandchildOf(pidFile);
  const report = await killTree(await identify(script.pid), { graceMs: 0, token });
  expect(report.notes.join(" ")).toContain("outside the group by run token");
  await waitFor("the escaped grandchild to be gone", async () => !(await isProcessAlive(grandchild)));
});

test("Windows: a taskkill that fails is reported, and the known processes are killed one by one within the bound", async () => {
  const script = startScript("sleeper.py", ["600"]);
  const started = Date.now();
  const report = await killTree(
    { pid: script.pid, start: null },
    {
      platform: "win32",
      graceMs: 300,
      confirmMs: 3000,
      // Wine 8's taskkill: no /T, exit 1.
      taskkill: async () => ({ exitCode: 1, output: "ERROR: Invalid argument/option - '/T'." }),
    },
  );
  expect(report.notes[0]).toContain("taskkill /T /F failed (exit 1");
  expect(report.notes[1]).toContain(`killing 1 known process(es) one by one: ${script.pid}`);
  expect(report.survivors).toEqual([]);
  expect(Date.now() - started).toBeLessThan(10_000);
  await script.exited;
});

test("Windows tree kill uses taskkill /T /F", () => {
  expect(windowsTreeKillArgs(1234)).toEqual(["/pid", "1234", "/T", "/F"]);
});
