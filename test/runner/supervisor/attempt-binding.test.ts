import path from "node:path";
import { expect } from "vitest";
import { isProcessAlive } from "../../../protocol/index.ts";
import { readLedgerLines } from "../helpers/ledger-file.ts";
import { readLines, readText, submitJob, waitFor, waitForStatus } from "../helpers/make-job.ts";
import { testConfig } from "../helpers/runner-harness.ts";
import { heldTest as test } from "./held-supervisors.ts";

// A supervisor left alive from a withdrawn attempt (slow to start: on Windows reading a process start
// time through PowerShell takes seconds) must never act on the next attempt's request: each supervisor
// renames only the files of its own run token.

test.for([
  {
    step: "claim",
    // On main's code before run tokens: supervisor 1 claimed attempt 2's spec.json; supervisor 2 found
    // nothing to claim and ended, so attempt 2 was withdrawn too and the job cost one more requeue.
    stale: "still waiting for its claim when its request is withdrawn",
  },
  {
    step: "launch",
    // On main's code before run tokens: supervisor 1 renamed attempt 2's claimed.json to launched.json;
    // supervisor 2's launch failed and it ended, and the runner ended the job runner_restart while
    // supervisor 1 was about to start the script.
    stale: "claimed, and still waiting for its launch when its request is withdrawn",
  },
] as const)(
  "a supervisor of attempt 1 $stale never acts on attempt 2: the script runs once, the job completes",
  async ({ step }, { queue, startRunner, holdSupervisors }) => {
    const counter = path.join(queue.scratch, "starts.txt");
    const holds = await holdSupervisors({ 1: [`before-${step}`, `after-${step}`], 2: [`before-${step}`] });

    // Attempt 1: its supervisor stalls; the runner goes away (its supervisors are detached and stay).
    const first = await startRunner(testConfig(queue, "python3"));
    const jobId = await submitJob(queue, {
      name: "stale supervisor",
      fixture: "counted_sleep.py",
      args: [counter, "0.5"],
    });
    const stalePid = await holds.held(1, `before-${step}`);
    await first.runner.stop();

    // The next runner finds no launch, withdraws attempt 1 and starts attempt 2, held at the same step.
    const second = await startRunner(testConfig(queue, "python3"));
    await second.waitForLog(jobId, "queued again");
    await holds.held(2, `before-${step}`);

    // Attempt 1's supervisor goes on: its own request is gone, so it must end without touching attempt 2's.
    await holds.release(1, `before-${step}`);
    await waitFor("supervisor 1 to end or to pass its rename", async () =>
      (await readText(path.join(queue.scratch, "holds", `held-1-after-${step}`))) !== "" ||
      !(await isProcessAlive(stalePid))
        ? true
        : undefined,
    );

    await holds.release(2, `before-${step}`);
    const done = await waitForStatus(queue, jobId, ["completed", "failed", "cancelled"]);
    await holds.finish();
    expect(done).toMatchObject({ status: "completed", exit_code: 0 });
    expect(await readLines(counter)).toEqual([jobId]);
    const ledger = readLedgerLines(queue.state);
    expect(ledger.filter((line) => line.includes('"requeued"')).length).toBe(1);
    expect((await holds.started()).length).toBe(2);
    // Its own request was withdrawn: its rename found nothing, and it never looked at attempt 2's files.
    expect(await holds.done(1, step)).toBe("ENOENT");
  },
);
