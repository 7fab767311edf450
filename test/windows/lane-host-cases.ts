import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import path from "node:path";
import type { LaneContext } from "./lane-context.ts";
import { assert } from "./lane-context.ts";
import { isFinal } from "./lane-queue.ts";
import { writeStudy } from "./lane-studies.ts";
import { runWine, startWine } from "./wine-process.ts";
import { zPath } from "./wine-setup.ts";

type Check = (name: string, body: () => Promise<void>) => Promise<void>;

/** A local TCP listener standing in for the licence server. */
function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
const close = (server: Server) => new Promise((resolve) => server.close(resolve));

/** The licence gate: up (runs), down (waits queued, visible to agents), back up (starts). */
export async function licenceCase(ctx: LaneContext, check: Check): Promise<void> {
  let server = await listen(0);
  const port = (server.address() as { port: number }).port;
  const env = ctx.wineEnv({ extra: { SPLM_LICENSE_SERVER: `${port}@127.0.0.1` } });
  const runner = startWine(ctx.lane, ctx.runnerArgs(zPath(ctx.queue), ["--licence-poll", "0.5"]), {
    cwd: ctx.dir,
    outFile: ctx.outFile("runner-licence"),
    env,
  });
  try {
    const study = await writeStudy(ctx.studies, "interpreter-job");
    const upJob = await ctx.linux.submit(study, "lane-licence-up", { script: "main.py" });
    await check("licence server up: an optimization job runs", async () => {
      assert.equal((await ctx.linux.waitJob(upJob, isFinal, 60_000)).status, "completed");
    });
    await close(server);
    const heldJob = await ctx.linux.submit(study, "lane-licence-down", { script: "main.py" });
    const otherJob = await ctx.linux.submit(study, "lane-not-nx", { script: "main.py", type: "report" });
    await check(
      "licence server down: the job waits queued with waiting_for (job_status, runner_status)",
      async () => {
        const job = await ctx.linux.waitJob(heldJob, (j) => typeof j.waiting_for === "string", 30_000);
        assert.equal(job.status, "queued");
        assert.match(
          String(job.waiting_for),
          new RegExp(`^licence server ${port}@127\\.0\\.0\\.1 not answering since \\d{4}-`),
        );
        const status = JSON.parse((await ctx.linux.cli(["status", heldJob, "--json"])).stdout);
        assert.equal(status.state, "queued");
        assert.equal(status.waiting_for, job.waiting_for);
        // The runner heartbeat follows within its interval (1 s here).
        const deadline = Date.now() + 10_000;
        let runners: { runners: Array<{ waiting_for?: string; queued: string[] }> };
        do runners = JSON.parse((await ctx.linux.cli(["runners", "--json"])).stdout);
        while (!runners.runners.some((r) => r.waiting_for === job.waiting_for) && Date.now() < deadline);
        const runner = runners.runners.find((r) => r.waiting_for === job.waiting_for);
        assert.ok(runner?.queued.includes(heldJob), JSON.stringify(runners));
      },
    );
    await check("licence server down: a job type that needs no NX still runs", async () => {
      assert.equal((await ctx.linux.waitJob(otherJob, isFinal, 30_000)).status, "completed");
      assert.equal((await ctx.linux.job(heldJob))?.status, "queued");
    });
    server = await listen(port);
    await check("licence server back up: the held job starts and completes, waiting_for gone", async () => {
      const job = await ctx.linux.waitJob(heldJob, isFinal, 30_000);
      assert.equal(job.status, "completed");
      assert.equal(job.waiting_for, undefined);
    });
  } finally {
    runner.child.kill("SIGKILL");
    await runner.exited;
    await close(server);
  }
}

/** doctor, status and service as a workstation runs them, under Wine. */
export async function hostCases(ctx: LaneContext, check: Check): Promise<void> {
  const bin = zPath(path.join(ctx.repo, "bin", "atomizer-jobs.js"));
  const nx = path.join(String(ctx.lane.env.WINEPREFIX), "drive_c", "lane-nx", "NXBIN");
  await mkdir(nx, { recursive: true });
  const server = await listen(0);
  const port = (server.address() as { port: number }).port;
  const doctorArgs = [
    bin,
    "doctor",
    "--queue",
    zPath(ctx.queue),
    "--work",
    "C:\\atomizer-lane\\work",
    "--state",
    "state",
    "--python",
    zPath(ctx.lane.nodeExe),
  ];
  const nxEnv = { UGII_BASE_DIR: "C:\\lane-nx", SPLM_LICENSE_SERVER: `${port}@127.0.0.1` };
  await check("doctor: NX install and licence server ok", async () => {
    const { code, output } = await runWine(ctx.lane, doctorArgs, {
      cwd: ctx.dir,
      outFile: ctx.outFile("doctor-up"),
      env: ctx.wineEnv({ extra: nxEnv }),
    });
    assert.match(output, /ok {4}nx install: C:\\lane-nx \(UGII_BASE_DIR\) has NXBIN/);
    assert.match(output, new RegExp(`ok {4}licence server: ${port}@127.0.0.1 answers`));
    assert.equal(code, 0, output);
  });
  await close(server);
  await check("doctor: licence server down and the default NX folder missing fail", async () => {
    const env = ctx.wineEnv({ extra: { SPLM_LICENSE_SERVER: `${port}@127.0.0.1`, UGII_BASE_DIR: "" } });
    const { code, output } = await runWine(ctx.lane, doctorArgs, {
      cwd: ctx.dir,
      outFile: ctx.outFile("doctor-down"),
      env,
    });
    assert.match(output, /fail {2}licence server: no licence server answers/);
    assert.match(output, /fail {2}nx install: C:\\Program Files\\Siemens\\DesigncenterNX2512/);
    assert.equal(code, 1);
  });
  await check("status under Wine reads the queue the Linux side wrote", async () => {
    const jobs = JSON.parse((await ctx.linux.cli(["list", "--json"])).stdout);
    const id = (jobs.jobs ?? jobs)[0]?.job_id as string;
    const { code, output } = await runWine(ctx.lane, [bin, "status", id, "--queue", zPath(ctx.queue)], {
      cwd: ctx.dir,
      outFile: ctx.outFile("status"),
    });
    assert.equal(code, 0, output);
    assert.match(output, new RegExp(`${id}: (completed|failed|cancelled)`));
  });
  const task = path.join(
    String(ctx.lane.env.WINEPREFIX),
    "drive_c",
    "windows",
    "system32",
    "tasks",
    "atomizer-lane-runner",
  );
  await check(
    "service install registers the task definition (s4u; Wine stores what schtasks accepted)",
    async () => {
      const args = [
        bin,
        "service",
        "install",
        "--name",
        "atomizer-lane-runner",
        "--logon",
        "s4u",
        "--no-start",
        "--queue",
        zPath(ctx.queue),
        "--work",
        "C:\\atomizer-lane\\work",
        "--state",
        "C:\\atomizer-lane\\state",
        "--python",
        zPath(ctx.lane.nodeExe),
        "--slots",
        "2",
        "--user",
        "LANE\\nx",
      ];
      const { code, output } = await runWine(ctx.lane, args, {
        cwd: ctx.dir,
        outFile: ctx.outFile("service-install"),
        env: ctx.wineEnv(),
      });
      assert.equal(code, 0, output);
      // Wine's schtasks parses the definition but stores only part of it (no triggers, principal or
      // action), so the stored task proves registration and the written definition its content.
      const stored = (await readFile(task, "utf8")).replace(/^\uFEFF/, "");
      assert.match(stored, /<MultipleInstancesPolicy>IgnoreNew<\/MultipleInstancesPolicy>/);
      assert.match(stored, /<ExecutionTimeLimit>PT0S<\/ExecutionTimeLimit>/);
      const written = path.join(ctx.workLinux, "..", "state", "service", "atomizer-lane-runner.xml");
      const xml = (await readFile(written)).subarray(2).toString("utf16le");
      for (const want of [
        "<BootTrigger>",
        "<LogonType>S4U</LogonType>",
        "<UserId>LANE\\nx</UserId>",
        "<RestartOnFailure>",
        "--slots 2",
        "--log-file C:\\atomizer-lane\\state\\runner.log",
        `<Command>${zPath(ctx.lane.nodeExe)}</Command>`,
      ])
        assert.ok(xml.includes(want), `written definition lacks ${want}`);
    },
  );
  await check("service status and uninstall", async () => {
    const status = await runWine(ctx.lane, [bin, "service", "status", "--name", "atomizer-lane-runner"], {
      cwd: ctx.dir,
      outFile: ctx.outFile("service-status"),
    });
    assert.equal(status.code, 0, status.output);
    const removed = await runWine(ctx.lane, [bin, "service", "uninstall", "--name", "atomizer-lane-runner"], {
      cwd: ctx.dir,
      outFile: ctx.outFile("service-uninstall"),
    });
    assert.equal(removed.code, 0, removed.output);
    assert.ok(!existsSync(task), "the task definition is still stored");
  });
}
