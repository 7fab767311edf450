import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { findNatsServer, startNatsServer } from "../helpers/nats-server.ts";
import { maxConcurrency } from "../runner/nats/helpers/nats-runners.ts";
import type { LaneContext } from "./lane-context.ts";
import { assert } from "./lane-context.ts";
import type { WineProcess } from "./wine-process.ts";
import { startWine } from "./wine-process.ts";
import { zPath } from "./wine-setup.ts";

type Check = (name: string, body: () => Promise<void>) => Promise<void>;
type Cli = (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

// Each run appends "<job> start|end <ms>" to a log outside the queue: the jobs themselves record how
// often they ran and how many ran at once, whatever the runners report.
const NATS_JOB = `const fs = require("node:fs"), path = require("node:path");
const results = process.env.ATOMIZER_RESULTS_DIR, log = process.argv[2], id = process.env.ATOMIZER_JOB_ID;
fs.appendFileSync(log, id + " start " + Date.now() + "\\n");
setTimeout(() => {
  fs.writeFileSync(path.join(results, "ran.txt"), id);
  fs.appendFileSync(log, id + " end " + Date.now() + "\\n");
  console.log("ran", id);
}, Number(process.argv[3] ?? "1500"));
`;

function linuxCli(ctx: LaneContext, url: string, state: string): Cli {
  const bin = path.join(ctx.repo, "bin", "atomizer-jobs.js");
  return (args) =>
    new Promise((resolve) => {
      const end = args.indexOf("--");
      const withNats =
        end < 0 ? [...args, "--nats", url] : [...args.slice(0, end), "--nats", url, ...args.slice(end)];
      execFile(
        process.execPath,
        [bin, ...withNats],
        { timeout: 60_000, env: { ...process.env, ATOMIZER_STATE_DIR: state } },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
}

async function waitFinal(cli: Cli, jobId: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await cli(["status", jobId, "--json"]);
    const job = seen.code === 0 ? (JSON.parse(seen.stdout) as Record<string, unknown>) : undefined;
    const state = (job?.job as { state?: string } | undefined)?.state ?? (job?.state as string | undefined);
    if (state === "completed" || state === "failed" || state === "cancelled") return job ?? {};
    if (Date.now() > deadline)
      throw new Error(`${jobId}: not final in time; last ${seen.stdout.slice(0, 400)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The host running the job, once it runs (job_status's runner_host). */
async function waitRunning(cli: Cli, jobId: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await cli(["status", jobId, "--json"]);
    const body = seen.code === 0 ? (JSON.parse(seen.stdout) as Record<string, unknown>) : {};
    const job = (body.job ?? body) as { state?: string; runner_host?: string };
    if (job.state === "running" && job.runner_host) return job.runner_host;
    if (Date.now() > deadline)
      throw new Error(`${jobId}: not running in time; last ${seen.stdout.slice(0, 400)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Most runs overlapping at any moment, from the jobs' own "<job> start|end <ms>" lines. */
function maxConcurrent(lines: string[]): number {
  return maxConcurrency(
    lines.map((line) => {
      const [, what, ms] = line.split(" ");
      return { what: what === "start" ? ("start" as const) : ("end" as const), ms: Number(ms) };
    }),
  );
}

/**
 * Several workstations on the real target: two Windows runners (Node 24 under Wine) take jobs from
 * one NATS JetStream queue with a pool-wide licence limit of 1, while the Linux side submits, waits
 * and fetches through the same server. Every job runs once, never two at a time, results verified.
 */
export async function natsCase(ctx: LaneContext, check: Check): Promise<void> {
  if (findNatsServer() === undefined)
    throw new Error("nats-server is not installed (apt install nats-server)");
  const nats = await startNatsServer();
  const runners: WineProcess[] = [];
  try {
    const cli = linuxCli(ctx, nats.url, path.join(ctx.dir, "nats-submitter-state"));
    const setup = await cli(["nats-setup", "--licences", "nx=1", "--json"]);
    assert.equal(setup.code, 0, setup.stderr);
    const study = path.join(ctx.studies, "nats-job");
    await mkdir(study, { recursive: true });
    await writeFile(path.join(study, "README.md"), "# nats-job\n\nA Windows lane job over NATS.\n");
    await writeFile(path.join(study, "main.py"), NATS_JOB);
    const runLog = path.join(ctx.dir, "nats-runs.log");
    await writeFile(runLog, "");
    const runnerArgs = (host: string) => [
      zPath(path.join(ctx.repo, "bin", "atomizer-jobs.js")),
      "runner",
      "--nats",
      nats.url,
      "--host",
      host,
      "--work",
      `C:\\atomizer-lane\\nats-${host}\\work`,
      "--state",
      `nats-${host}-state`,
      "--python",
      zPath(ctx.lane.nodeExe),
      "--slots",
      "2",
      "--heartbeat",
      "1",
      "--rescan",
      "1",
    ];
    for (const host of ["ws-a", "ws-b"])
      runners.push(
        startWine(ctx.lane, runnerArgs(host), {
          cwd: ctx.dir,
          outFile: ctx.outFile(`runner-nats-${host}`),
          env: ctx.wineEnv(),
        }),
      );
    // The job's arguments: the shared run log, then how long it runs (ms).
    const submit = async (name: string, args: string[]): Promise<string> => {
      const submitted = await cli([
        ...["submit", study, "--name", name, "--project", "windows-lane", "--script", "main.py", "--json"],
        ...["--", zPath(runLog), ...args],
      ]);
      assert.equal(submitted.code, 0, submitted.stderr || submitted.stdout);
      return JSON.parse(submitted.stdout).job_id as string;
    };
    const jobs: string[] = [];
    for (let n = 0; n < 4; n++) jobs.push(await submit(`lane-nats-${n}`, []));
    const finals: Record<string, unknown>[] = [];
    for (const jobId of jobs) finals.push(await waitFinal(cli, jobId, 180_000));
    await check("two Windows runners over NATS: every job completed", async () => {
      const states = finals.map((f) => (f.job as { state?: string } | undefined)?.state ?? f.state);
      const logs = await Promise.all(runners.map((r) => r.output()));
      assert.deepEqual(
        states,
        ["completed", "completed", "completed", "completed"],
        logs.join("\n").slice(-3000),
      );
    });
    await check("each job ran exactly once and never two at once (licence pool nx=1)", async () => {
      const lines = (await readFile(runLog, "utf8")).trim().split("\n");
      for (const jobId of jobs) {
        assert.equal(lines.filter((line) => line.startsWith(`${jobId} start`)).length, 1, lines.join("\n"));
      }
      assert.equal(maxConcurrent(lines), 1, lines.join("\n"));
    });
    await check("results fetched on Linux through NATS verify", async () => {
      for (const jobId of jobs) {
        const fetched = await cli(["results", jobId, "--work", path.join(ctx.dir, "nats-fetched"), "--json"]);
        assert.equal(fetched.code, 0, fetched.stderr || fetched.stdout);
        const ran = await readFile(path.join(ctx.dir, "nats-fetched", jobId, "3_results", "ran.txt"), "utf8");
        assert.equal(ran, jobId);
      }
    });
    // Never lose a study, across hosts: the runner holding a running job is killed outright; the other
    // host must not start it, and the same host's next runner adopts it and completes it once.
    const longJob = await submit("lane-nats-long", ["20000"]);
    const host = await waitRunning(cli, longJob, 120_000);
    const index = host === "ws-a" ? 0 : 1;
    runners[index]?.child.kill("SIGKILL");
    await runners[index]?.exited;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    runners[index] = startWine(ctx.lane, runnerArgs(host), {
      cwd: ctx.dir,
      outFile: ctx.outFile(`runner-nats-${host}-again`),
      env: ctx.wineEnv(),
    });
    const final = await waitFinal(cli, longJob, 180_000);
    await check(
      "a Windows runner killed mid-job over NATS: its next start adopts the job, which completes once",
      async () => {
        const state = (final.job as { state?: string } | undefined)?.state ?? final.state;
        const again = await runners[index]?.output();
        assert.equal(state, "completed", (again ?? "").slice(-2000));
        const lines = (await readFile(runLog, "utf8")).trim().split("\n");
        assert.equal(lines.filter((line) => line.startsWith(`${longJob} start`)).length, 1, lines.join("\n"));
        assert.match(again ?? "", new RegExp(`${longJob} claim resumed`));
        assert.match(again ?? "", new RegExp(`${longJob} adopted`));
      },
    );
  } finally {
    for (const runner of runners) runner.child.kill("SIGTERM");
    await Promise.all(
      runners.map((r) => Promise.race([r.exited, new Promise((resolve) => setTimeout(resolve, 15_000))])),
    );
    for (const runner of runners) runner.child.kill("SIGKILL");
    await nats.stop();
  }
}
