// A runner's last heartbeat says it stopped, even when a beat was under way as stop() began: a late
// beat once replaced the stopped record with a live-looking one, so submitters took a stopped runner
// that trusts keys for a live one and refused unsigned jobs (seen once in the Windows lane under Wine;
// on Linux the writes are quick enough that this test passed before the fix too: it guards the
// property, it does not reproduce the race).
import path from "node:path";
import { expect } from "vitest";
import { RunnerHeartbeatSchema } from "../../protocol/index.ts";
import { createRunner } from "../../runner/runner-lifecycle.ts";
import { readText } from "./helpers/make-job.ts";
import { runnerTest as test, testConfig } from "./helpers/runner-harness.ts";

test("twenty stops in the middle of beats every 10 ms each leave stopped_at as the last word", async ({
  queue,
}) => {
  const file = path.join(queue.paths.inbox, ".runners", "test-host.json");
  const missing: number[] = [];
  for (let round = 0; round < 20; round++) {
    const runner = createRunner(testConfig(queue, "python3", { heartbeatS: 0.01 }), { log: () => {} });
    await runner.start();
    await new Promise((resolve) => setTimeout(resolve, 15 + (round % 5) * 7));
    await runner.stop();
    // Anything still in flight would land within a few beats.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const last = RunnerHeartbeatSchema.parse(JSON.parse(await readText(file)));
    if (last.stopped_at === undefined) missing.push(round);
  }
  expect(missing).toEqual([]);
});
