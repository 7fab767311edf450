import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { LaneContext } from "./lane-context.ts";
import { assert } from "./lane-context.ts";
import { writeStudy } from "./lane-studies.ts";
import { runWine } from "./wine-process.ts";
import { zPath } from "./wine-setup.ts";

type Check = (name: string, body: () => Promise<void>) => Promise<void>;

/**
 * The ledger on the real target: a ledger.jsonl an earlier runner left in the state folder (its last
 * line torn) is taken into ledger.db by the Windows build's node:sqlite and renamed aside, and the job
 * it says finished is never run, though its folder is in outbox/.
 */
export async function ledgerImportCase(ctx: LaneContext, check: Check): Promise<void> {
  const jobId = await ctx.linux.submit(await writeStudy(ctx.studies, "interpreter-job"), "lane-ledgered", {
    script: "main.py",
    args: ["never"],
  });
  // runnerArgs' --state is "state", relative to the runner's cwd (the lane folder).
  const state = path.join(ctx.dir, "state");
  await mkdir(state, { recursive: true });
  const finished = {
    event: "imported",
    job_id: jobId,
    at: new Date().toISOString(),
    inbox_status: "completed",
    status: "completed",
  };
  await writeFile(
    path.join(state, "ledger.jsonl"),
    `${JSON.stringify(finished)}\n{"event":"started","job_id":"${jobId}`,
  );
  const run = await runWine(ctx.lane, ctx.runnerArgs(zPath(ctx.queue), ["--once"]), {
    cwd: ctx.dir,
    outFile: ctx.outFile("runner-ledger-import"),
    env: ctx.wineEnv(),
  });
  await check(
    "a ledger.jsonl of an earlier runner is taken into ledger.db under Wine, and kept aside",
    async () => {
      assert.equal(run.code, 0, run.output.slice(-2000));
      assert.match(run.output, /1 records of .*ledger\.jsonl\.imported taken into .*ledger\.db/);
      const names = await readdir(state);
      assert.ok(names.includes("ledger.db"), names.join(", "));
      assert.ok(names.includes("ledger.jsonl.imported"), names.join(", "));
      assert.ok(!names.includes("ledger.jsonl"), names.join(", "));
    },
  );
  await check("the job that ledger says finished is never run from outbox/", async () => {
    // Known to the ledger, so not even looked at: no record in inbox/, no line about it in the log.
    assert.equal(await ctx.linux.job(jobId), undefined);
    assert.doesNotMatch(run.output, new RegExp(jobId));
  });
}
