import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { LaneContext } from "./lane-context.ts";
import { assert } from "./lane-context.ts";
import { isFinal } from "./lane-queue.ts";
import { writeStudy } from "./lane-studies.ts";
import { startWine } from "./wine-process.ts";
import { zPath } from "./wine-setup.ts";

type Check = (name: string, body: () => Promise<void>) => Promise<void>;

/** Tick files of a tree job: stable contents over 1.5 s mean every level is gone. */
async function treeStopped(ctx: LaneContext, jobId: string): Promise<void> {
  const dir = path.join(ctx.workLinux, jobId, "3_results");
  const read = () =>
    Promise.all(
      [1, 2, 3].map((level) => readFile(path.join(dir, `tick-${level}.txt`), "utf8").catch(() => "none")),
    );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = await read();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const after = await read();
  assert.ok(!before.includes("none"), `every level ticked: ${before.join(", ")}`);
  assert.deepEqual(after, before, "a level of the tree still ticks after the cancel");
}

async function cancelTree(ctx: LaneContext, jobId: string): Promise<void> {
  const work = path.join(ctx.workLinux, jobId, "3_results");
  const deadline = Date.now() + 60_000;
  while (!(await stat(path.join(work, "tick-3.txt")).catch(() => undefined))) {
    if (Date.now() > deadline) throw new Error("the grandchild never ticked");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const cancel = await ctx.linux.cli(["cancel", jobId]);
  assert.equal(cancel.code, 0, cancel.stderr);
  const job = await ctx.linux.waitJob(jobId, isFinal, 60_000);
  assert.equal(job.status, "cancelled");
  await treeStopped(ctx, jobId);
}

/** One --once runner on a Z:\ queue: a .cmd job, an interpreter job, a timeout, a tree cancel. */
export async function runnerCases(ctx: LaneContext, check: Check): Promise<void> {
  const cmdJob = await ctx.linux.submit(await writeStudy(ctx.studies, "cmd-job"), "lane-cmd", {
    script: "run.cmd",
    args: ["alpha", "beta"],
  });
  const pyJob = await ctx.linux.submit(await writeStudy(ctx.studies, "interpreter-job"), "lane-interpreter", {
    script: "main.py",
    args: ["one", "two words"],
  });
  const sleepJob = await ctx.linux.submit(await writeStudy(ctx.studies, "sleep-job"), "lane-timeout", {
    script: "main.py",
    timeout: 3,
  });
  const treeJob = await ctx.linux.submit(await writeStudy(ctx.studies, "tree-job"), "lane-tree", {
    script: "main.py",
  });
  const orphanJob = await ctx.linux.submit(await writeStudy(ctx.studies, "orphan-job"), "lane-orphan", {
    script: "main.py",
  });
  const runner = startWine(ctx.lane, ctx.runnerArgs(zPath(ctx.queue), ["--once"]), {
    cwd: ctx.dir,
    outFile: ctx.outFile("runner-once"),
    env: ctx.wineEnv(),
  });
  await check("cancel of a three-level tree (lane taskkill /T): all gone", () => cancelTree(ctx, treeJob));
  const code = await runner.exited;
  const log = await runner.output();
  await check("runner --once under Wine exits 0", async () => assert.equal(code, 0, log.slice(-2000)));
  await check(".cmd job completes; results fetched and verified on Linux", async () => {
    const job = await ctx.linux.waitJob(cmdJob, isFinal, 5000);
    assert.equal(job.status, "completed", JSON.stringify(job.error));
    const fetched = await ctx.linux.cli([
      "results",
      cmdJob,
      "--work",
      path.join(ctx.dir, "fetched"),
      "--json",
    ]);
    assert.equal(fetched.code, 0, fetched.stderr);
    const hello = await readFile(path.join(ctx.dir, "fetched", cmdJob, "3_results", "hello.txt"), "utf8");
    assert.equal(hello.trim(), cmdJob);
    const stdout = await readFile(path.join(ctx.dir, "fetched", cmdJob, "stdout.log"), "utf8");
    assert.match(stdout, /hello from .* args alpha beta/);
  });
  await check(".py job runs with the configured interpreter, args intact", async () => {
    const job = await ctx.linux.waitJob(pyJob, isFinal, 5000);
    assert.equal(job.status, "completed", JSON.stringify(job.error));
    const result = JSON.parse(
      await readFile(path.join(ctx.queue, "inbox", pyJob, "3_results", "result.json"), "utf8"),
    );
    assert.deepEqual(result.args, ["one", "two words"]);
    assert.equal(result.platform, "win32");
    assert.match(result.cwd, /^C:\\atomizer-lane\\work\\/i);
  });
  await check(
    "a solver the script left behind (no parent link left) is killed when the script ends",
    async () => {
      const job = await ctx.linux.waitJob(orphanJob, isFinal, 5000);
      assert.equal(job.status, "completed", JSON.stringify(job.error));
      const tick = path.join(ctx.workLinux, orphanJob, "3_results", "tick-orphan.txt");
      const before = await readFile(tick, "utf8");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(await readFile(tick, "utf8"), before, "the orphan still ticks after its job ended");
    },
  );
  await check("timeout: failed with error.kind timeout", async () => {
    const job = await ctx.linux.waitJob(sleepJob, isFinal, 5000);
    assert.equal(job.status, "failed");
    assert.equal((job.error as { kind: string }).kind, "timeout");
  });
}

/** Wine's own taskkill (no /T, exit 1): the runner falls back and still ends the whole tree. */
export async function stockTaskkillCase(ctx: LaneContext, check: Check): Promise<void> {
  const treeJob = await ctx.linux.submit(await writeStudy(ctx.studies, "tree-job"), "lane-tree-stock", {
    script: "main.py",
  });
  const runner = startWine(ctx.lane, ctx.runnerArgs(zPath(ctx.queue), ["--once"]), {
    cwd: ctx.dir,
    outFile: ctx.outFile("runner-stock-taskkill"),
    env: ctx.wineEnv({ stockTaskkill: true }),
  });
  await check("stock Wine taskkill: cancel still ends all three levels", () => cancelTree(ctx, treeJob));
  const code = await runner.exited;
  const log = await runner.output();
  await check(
    "stock Wine taskkill: the failure and the fallback are logged, the runner exits 0",
    async () => {
      assert.equal(code, 0, log.slice(-2000));
      assert.match(log, /taskkill \/T \/F failed \(exit 1/);
      assert.match(log, /descendant\(s\) by parent links/);
    },
  );
}
