import { spawn } from "node:child_process";
import { readdir, rename } from "node:fs/promises";
import path from "node:path";
import { expect } from "vitest";
import { isProcessAlive, JOB_ENV, RESULTS_DIR } from "../../../protocol/index.ts";
import { supervisorEntry } from "../../../runner/supervisor/launch-supervisor.ts";
import { runDir, runFile } from "../../../runner/supervisor/run-folder.ts";
import { inspectRun } from "../../../runner/supervisor/run-view.ts";
import { readLedgerLines } from "../helpers/ledger-file.ts";
import type { TestQueue } from "../helpers/make-job.ts";
import { readLines, readText, submitJob, waitFor, waitForStatus } from "../helpers/make-job.ts";
import { testConfig } from "../helpers/runner-harness.ts";
import { heldTest as test } from "./held-supervisors.ts";

// A runner upgraded mid-run finds run folders of the layout before run tokens (spec.json,
// claimed.json, launched.json, state.json, outcome.json), maybe with an older supervisor still
// running: they are adopted or withdrawn as before, and the script still runs once.

/** Renames the attempt's tokened files to the plain names of the layout before tokens; the old token. */
async function untokened(dir: string): Promise<string> {
  let token = "";
  for (const name of await readdir(dir)) {
    const match = /^(spec|claimed|state)\.([A-Za-z0-9-]+)\.json$/.exec(name);
    if (!match) continue;
    token = match[2] ?? "";
    await rename(path.join(dir, name), path.join(dir, `${match[1]}.json`));
  }
  return token;
}

/** A supervisor as an older runner started it: the run folder only, no token. */
function olderSupervisor(queue: TestQueue, dir: string, jobId: string): number {
  const { NODE_OPTIONS: _, ...env } = process.env;
  const child = spawn(process.execPath, [supervisorEntry(), dir], {
    cwd: queue.work,
    detached: true,
    stdio: "ignore",
    env: {
      ...env,
      [JOB_ENV.jobId]: jobId,
      [JOB_ENV.jobDir]: path.join(queue.work, jobId),
      [JOB_ENV.resultsDir]: path.join(queue.work, jobId, RESULTS_DIR),
      PYTHONUNBUFFERED: "1",
    },
  });
  child.unref();
  return child.pid ?? 0;
}

test.for([
  {
    name: "launched, its older supervisor still running: adopted, and it completes",
    hold: "before-claim",
    older: true,
    log: "adopted",
    requeues: 0,
  },
  {
    name: "claimed but never launched, its supervisor gone: withdrawn and queued again, then run once",
    hold: "before-launch",
    older: false,
    log: "queued again",
    requeues: 1,
  },
] as const)(
  "a run folder without run tokens, $name",
  async (want, { queue, startRunner, holdSupervisors, strays }) => {
    const counter = path.join(queue.scratch, "starts.txt");
    const holds = await holdSupervisors({ 1: [want.hold] });
    const first = await startRunner(testConfig(queue, "python3"));
    const jobId = await submitJob(queue, {
      name: "upgraded",
      fixture: "counted_sleep.py",
      args: [counter, "2"],
    });
    const held = await holds.held(1, want.hold);
    await first.runner.stop();
    // What the older runner left: its supervisor is replaced by one of the older kind, or gone.
    process.kill(held, "SIGKILL");
    await waitFor("the held supervisor to be gone", async () => !(await isProcessAlive(held)));
    const dir = runDir(queue.work, jobId);
    const oldToken = await untokened(dir);
    if (want.older) {
      strays.push(olderSupervisor(queue, dir, jobId));
      await waitFor(
        "the older supervisor's launch",
        async () => (await readText(runFile(dir, "launched"))) || undefined,
      );
    }

    const second = await startRunner(testConfig(queue, "python3"));
    await second.waitForLog(jobId, want.log);
    const done = await waitForStatus(queue, jobId, ["completed", "failed", "cancelled"]);
    expect(done).toMatchObject({ status: "completed", exit_code: 0 });
    expect(await readLines(counter)).toEqual([jobId]);
    const ledger = readLedgerLines(queue.state);
    expect(ledger.filter((line) => line.includes('"requeued"')).length).toBe(want.requeues);
    const view = await inspectRun(dir);
    expect(view.launched).toBe(true);
    // Adopted: still the older layout; queued again: the new attempt is tokened.
    expect(view.token).toBe(want.older ? undefined : view.spec?.run_token);
    expect(view.spec?.run_token === oldToken).toBe(want.older);
  },
);
