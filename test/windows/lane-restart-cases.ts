import { readFile, rm, symlink } from "node:fs/promises";
import path from "node:path";
import type { LaneContext } from "./lane-context.ts";
import { assert } from "./lane-context.ts";
import { isFinal } from "./lane-queue.ts";
import { writeStudy } from "./lane-studies.ts";
import { startWine } from "./wine-process.ts";

type Check = (name: string, body: () => Promise<void>) => Promise<void>;

/**
 * "Never lose a study" on Windows: a runner is killed outright while its job runs; the next runner
 * adopts the live supervisor (pid + creation time from process-start.exe), and the job completes once.
 * The queue is reached through a drive letter (Q: mapped in the prefix's dosdevices).
 */
export async function restartCase(ctx: LaneContext, check: Check): Promise<void> {
  const drive = path.join(String(ctx.lane.env.WINEPREFIX), "dosdevices", "q:");
  await rm(drive, { force: true });
  await symlink(ctx.dir, drive);
  const longJob = await ctx.linux.submit(await writeStudy(ctx.studies, "long-job"), "lane-restart", {
    script: "main.py",
    args: ["30"],
  });
  const first = startWine(ctx.lane, ctx.runnerArgs("Q:\\queue"), {
    cwd: ctx.dir,
    outFile: ctx.outFile("runner-killed"),
    env: ctx.wineEnv(),
  });
  await ctx.linux.waitJob(longJob, (job) => job.status === "running" && job.progress !== undefined, 60_000);
  first.child.kill("SIGKILL");
  await first.exited;
  const second = startWine(ctx.lane, ctx.runnerArgs("Q:\\queue", ["--once"]), {
    cwd: ctx.dir,
    outFile: ctx.outFile("runner-adopting"),
    env: ctx.wineEnv(),
  });
  const code = await second.exited;
  const log = await second.output();
  await check("restart with a job running: the new runner adopts it (Q: drive queue)", async () => {
    assert.equal(code, 0, log.slice(-2000));
    assert.match(log, new RegExp(`${longJob} adopted`));
  });
  await check("the adopted job completes, ran once, results verified on Linux", async () => {
    const job = await ctx.linux.waitJob(longJob, isFinal, 5000);
    assert.equal(job.status, "completed", JSON.stringify(job.error));
    const fetched = await ctx.linux.cli([
      "results",
      longJob,
      "--work",
      path.join(ctx.dir, "fetched"),
      "--json",
    ]);
    assert.equal(fetched.code, 0, fetched.stderr);
    const runs = await readFile(path.join(ctx.dir, "fetched", longJob, "3_results", "runs.txt"), "utf8");
    assert.equal(runs.trim().split("\n").length, 1, runs);
    assert.equal(
      await readFile(path.join(ctx.dir, "fetched", longJob, "3_results", "done.txt"), "utf8"),
      "done",
    );
  });
}
