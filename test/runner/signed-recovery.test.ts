// What a job runs comes from the runner's own record (the ledger's job, or the job.json intake wrote
// into the work folder), never from inbox/<id>/job.json, which anyone who can write to the synced
// queue can rewrite while the runner is down. And at the moment a job starts its work copy is checked
// again: with trusted keys it must still verify, and its script must stay inside the job.
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect } from "vitest";
import type { SigningKey } from "../../protocol/index.ts";
import { writeJsonAtomic } from "../../protocol/index.ts";
import type { RunnerConfigInput } from "../../runner/config.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { readLines, submitJob, waitForStatus } from "./helpers/make-job.ts";
import { runnerTest as test, testConfig } from "./helpers/runner-harness.ts";
import { makeKey, submitSignedJob } from "./helpers/signed-job.ts";

const PYTHON = "python3";

type Keys = "no keys" | "trusted keys" | "trusted and record keys";
interface Setup {
  config: (overrides?: Partial<RunnerConfigInput>) => RunnerConfigInput;
  submit: (spec: Parameters<typeof submitJob>[1]) => Promise<string>;
}

async function setup(queue: TestQueue, keys: Keys): Promise<Setup> {
  const submitter = keys === "no keys" ? undefined : await makeKey(queue, "submitter");
  const workstation = keys === "trusted and record keys" ? await makeKey(queue, "workstation") : undefined;
  const key: SigningKey | undefined = submitter?.key;
  return {
    config: (overrides = {}) =>
      testConfig(queue, PYTHON, {
        slots: 1,
        ...(submitter ? { trustKeys: [submitter.publicPath] } : {}),
        ...(workstation ? { signingKey: workstation.privatePath } : {}),
        ...overrides,
      }),
    submit: (spec) => (key ? submitSignedJob(queue, spec, key) : submitJob(queue, spec)),
  };
}

/** An intruder's script somewhere in the synced queue, and the marker it would leave. */
async function plantEvil(queue: TestQueue): Promise<{ script: string; marker: string }> {
  const dir = path.join(queue.paths.root, "archive", "x");
  await mkdir(dir, { recursive: true });
  const marker = path.join(queue.scratch, "PWNED");
  await writeFile(path.join(dir, "evil.py"), `open(${JSON.stringify(marker)}, "w").write("pwned")\n`);
  return { script: "../../queue/archive/x/evil.py", marker };
}

async function rewriteInbox(queue: TestQueue, jobId: string, patch: Record<string, unknown>): Promise<void> {
  const file = path.join(queue.paths.inbox, jobId, "job.json");
  const record = JSON.parse(await readFile(file, "utf8"));
  await writeJsonAtomic(file, { ...record, ...patch });
}

const KEYS: Keys[] = ["no keys", "trusted keys", "trusted and record keys"];
const CASES = KEYS.flatMap((keys) => [
  { keys, ledger: "kept" as const },
  { keys, ledger: "rebuilt" as const },
]);

describe("after a restart", () => {
  test.for(CASES)(
    "a queued job runs its own script and args, not a rewritten inbox record's ($keys, ledger $ledger)",
    async ({ keys, ledger }, { queue, startRunner }) => {
      const { config, submit } = await setup(queue, keys);
      const first = await startRunner(config());
      const blocker = await submit({
        name: "holds the slot",
        fixture: "counted_sleep.py",
        args: [path.join(queue.scratch, "a.ran"), "30"],
      });
      await waitForStatus(queue, blocker, ["running"]);
      const markerB = path.join(queue.scratch, "b.ran");
      const queued = await submit({ name: "queued b", fixture: "counted_sleep.py", args: [markerB, "0"] });
      await waitForStatus(queue, queued, ["queued"]);
      await first.stop();
      const evil = await plantEvil(queue);
      await rewriteInbox(queue, queued, { script: evil.script, args: ["--intruder"], timeout_s: 1000 });
      await startRunner(ledger === "kept" ? config() : config({ stateDir: path.join(queue.base, "state2") }));
      const done = await waitForStatus(queue, queued, ["completed", "failed", "cancelled"]);
      expect(existsSync(evil.marker)).toBe(false);
      expect(done.status, done.error?.message).toBe("completed");
      expect(await readLines(markerB)).toEqual([queued]);
      expect(done).toMatchObject({ script: "counted_sleep.py", args: [markerB, "0"] });
      expect(done.timeout_s).toBeUndefined();
    },
  );

  test.for(KEYS)(
    "a running job keeps its own time limit, not a rewritten inbox record's (%s)",
    async (keys, { queue, startRunner }) => {
      const { config, submit } = await setup(queue, keys);
      const first = await startRunner(config());
      const jobId = await submit({
        name: "overruns",
        fixture: "counted_sleep.py",
        args: [path.join(queue.scratch, "starts.txt"), "60"],
        timeout_s: 3,
      });
      await waitForStatus(queue, jobId, ["running"]);
      await first.runner.stop({ stopJobs: false });
      await rewriteInbox(queue, jobId, { timeout_s: 100_000 });
      await startRunner(config());
      const done = await waitForStatus(queue, jobId, ["completed", "failed", "cancelled"]);
      expect(done).toMatchObject({ status: "failed", error: { kind: "timeout" }, timeout_s: 3 });
      expect(done.error?.message).toContain("limit of 3 s");
    },
  );
});

describe("when a job starts", () => {
  test.for([
    {
      keys: "trusted keys" as const,
      change: (job: Record<string, unknown>) => ({ ...job, args: [...(job.args as string[]), "--more"] }),
      kind: "untrusted",
      message: "does not match its contents",
    },
    {
      keys: "no keys" as const,
      change: (job: Record<string, unknown>) => ({ ...job, script: "../escape.py" }),
      kind: "rejected",
      message: "was not run: script",
    },
  ])(
    "its work copy is checked again: changed after intake, it fails $kind and nothing runs ($keys)",
    async ({ keys, change, kind, message }, { queue, startRunner }) => {
      const { config, submit } = await setup(queue, keys);
      await startRunner(config());
      const blocker = await submit({
        name: "holds the slot",
        fixture: "counted_sleep.py",
        args: [path.join(queue.scratch, "a.ran"), "2"],
      });
      await waitForStatus(queue, blocker, ["running"]);
      const marker = path.join(queue.scratch, "b.ran");
      const queued = await submit({ name: "queued b", fixture: "counted_sleep.py", args: [marker, "0"] });
      await waitForStatus(queue, queued, ["queued"]);
      const workCopy = path.join(queue.work, queued, "job.json");
      await writeJsonAtomic(workCopy, change(JSON.parse(await readFile(workCopy, "utf8"))));
      const done = await waitForStatus(queue, queued, ["completed", "failed", "cancelled"]);
      expect(done.status).toBe("failed");
      expect(done.error?.kind).toBe(kind);
      expect(done.error?.message).toContain(message);
      expect(existsSync(marker)).toBe(false);
      expect((await waitForStatus(queue, blocker, ["completed", "failed"])).status).toBe("completed");
    },
  );
});
