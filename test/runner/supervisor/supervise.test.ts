import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { isProcessAlive } from "../../../protocol/index.ts";
import { launchSupervisor } from "../../../runner/supervisor/launch-supervisor.ts";
import { runFile, writeRunFile } from "../../../runner/supervisor/run-folder.ts";
import type { RunSpec } from "../../../runner/supervisor/run-schemas.ts";
import { abandonRun, inspectRun } from "../../../runner/supervisor/run-view.ts";
import { supervise } from "../../../runner/supervisor/supervise.ts";
import { FIXTURES, readText, waitFor } from "../helpers/make-job.ts";

let base: string;
let dir: string;
beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), "atomizer-supervise-"));
  dir = path.join(base, "run");
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function spec(command: string, args: string[]): RunSpec {
  return {
    job_id: "job-20260101-000000-supervised",
    run_token: "token-0123456789",
    command,
    args,
    windows_verbatim: false,
    cwd: base,
    log_path: path.join(base, "stdout.log"),
    created_at: new Date().toISOString(),
  };
}

async function outcomeOf(runDir: string) {
  return waitFor("the outcome", async () => (await inspectRun(runDir)).outcome);
}

test.each([
  { name: "exit 0", code: "0", want: 0 },
  { name: "exit 3", code: "3", want: 3 },
])("a detached supervisor runs the script and records how it ended ($name)", async ({ code, want }) => {
  const launched = await launchSupervisor(
    dir,
    spec("python3", ["-c", `import sys; print('hello'); sys.exit(${code})`]),
    process.env,
  );
  expect(launched.pid).toBeGreaterThan(0);
  const outcome = await outcomeOf(dir);
  expect(outcome).toMatchObject({ exit_code: want, signal: null, run_token: "token-0123456789" });
  const view = await inspectRun(dir);
  expect(view.launched).toBe(true);
  expect(view.state?.supervisor.pid).toBe(launched.pid);
  expect(view.state?.supervisor.start).toMatch(/^linux:/);
  expect(view.state?.child?.pid).toBeGreaterThan(0);
  expect(await readFile(path.join(base, "stdout.log"), "utf8")).toBe("hello\n");
});

test("a script that cannot start is recorded as a spawn error", async () => {
  await launchSupervisor(dir, spec(path.join(base, "no-such-python"), ["x.py"]), process.env);
  const outcome = await outcomeOf(dir);
  expect(outcome.exit_code).toBeNull();
  expect(outcome.spawn_error).toContain("ENOENT");
});

test("a grandchild the script leaves behind is killed and counted", async () => {
  const pidFile = path.join(base, "grandchild.pid");
  await launchSupervisor(
    dir,
    spec("python3", [path.join(FIXTURES, "leave_grandchild.py"), pidFile]),
    process.env,
  );
  const outcome = await outcomeOf(dir);
  expect(outcome.exit_code).toBe(0);
  expect(outcome.leftovers_killed).toBeGreaterThanOrEqual(1);
  const grandchild = Number(await readText(pidFile));
  await waitFor("the grandchild to be gone", async () => !(await isProcessAlive(grandchild)));
});

test("a double-forked daemon in its own session, left behind by the script, is found by the run token and killed", async () => {
  const pidFile = path.join(base, "daemon.pid");
  await launchSupervisor(dir, spec("python3", [path.join(FIXTURES, "daemonize.py"), pidFile]), process.env);
  const outcome = await outcomeOf(dir);
  expect(outcome.exit_code).toBe(0);
  expect(outcome.leftovers_killed).toBeGreaterThanOrEqual(1);
  const daemon = Number(await readText(pidFile));
  expect(daemon).toBeGreaterThan(0);
  await waitFor("the daemon to be gone", async () => !(await isProcessAlive(daemon)));
});

test("a request withdrawn before the supervisor claims it never runs", async () => {
  await mkdir(dir, { recursive: true });
  const marker = path.join(base, "ran.txt");
  const request = spec("python3", ["-c", `open(${JSON.stringify(marker)}, "w")`]);
  await writeRunFile(runFile(dir, "spec", request.run_token), request);
  expect(await abandonRun(dir)).toBe(true);
  expect(await supervise(dir, process.platform, request.run_token)).toEqual({
    ran: false,
    why: "the run request was withdrawn",
  });
  expect(await readText(marker)).toBe("");
  expect(await inspectRun(dir)).toMatchObject({ token: request.run_token, abandoned: true, launched: false });
});

const TOKEN = "token-0123456789";
test.each([
  { name: "nothing requested yet", files: [], want: true },
  { name: "requested, not claimed", files: [`spec.${TOKEN}.json`], want: true },
  { name: "claimed, not launched", files: [`claimed.${TOKEN}.json`], want: true },
  { name: "launched", files: [`launched.${TOKEN}.json`], want: false },
  { name: "withdrawn already", files: [`abandoned.${TOKEN}.json`], want: true },
  {
    name: "an earlier attempt withdrawn, the next one requested",
    files: [`abandoned.${TOKEN}.json`, "spec.token-next-attempt.json"],
    want: true,
  },
  { name: "before tokens: requested, not claimed", files: ["spec.json"], want: true },
  { name: "before tokens: claimed, not launched", files: ["claimed.json"], want: true },
  { name: "before tokens: launched", files: ["launched.json"], want: false },
] as const)("abandonRun when $name: $want", async ({ files, want }) => {
  await mkdir(dir, { recursive: true });
  for (const name of files) await writeFile(path.join(dir, name), "{}");
  expect(await abandonRun(dir)).toBe(want);
  // Nothing is left claimable: every request not launched is withdrawn.
  for (const name of files)
    if (!name.startsWith("launched") && !name.startsWith("abandoned"))
      expect(await readText(path.join(dir, name.replace(/^(spec|claimed)/, "abandoned")))).toBe("{}");
});
