import { spawn } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import type { CliRun } from "../../helpers/atomizer-jobs.ts";
import { BIN, REPO, runAtomizerJobs } from "../../helpers/atomizer-jobs.ts";
import {
  acceptJob,
  appendLog,
  finishJob,
  makeQueue,
  reportProgress,
  startJob,
  writeHeartbeat,
} from "../../submitter/fixtures/runner-fixture.ts";
import { makeStudy } from "../../submitter/fixtures/study-fixture.ts";

function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runAtomizerJobs(args, {
    env: { ...process.env, ATOMIZER_QUEUE_DIR: queue.root, ATOMIZER_AGENT: "antoine", ...env },
  });
}

let base: string;
let queue: QueuePaths;
let study: string;
let jobId: string;

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  study = await makeStudy(base);
  const submitted = await cli([
    "submit",
    study,
    "--name",
    "mirror from the cli",
    "--project",
    "starspec-m1-wfe",
    "--json",
    "--",
    "--trials",
    "5",
  ]);
  expect(submitted.code, submitted.stderr).toBe(0);
  jobId = JSON.parse(submitted.stdout).job_id;
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("people's CLI", () => {
  test("submit publishes the job with the script arguments and the person's name", async () => {
    const status = await cli(["status", jobId, "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({
      job_id: jobId,
      state: "submitted",
      created_by: "antoine",
    });
    expect(await readdir(queue.outbox)).toContain(jobId);
  });

  test("list prints a table, newest first, and --json for scripts", async () => {
    const table = await cli(["list"]);
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.split("\n");
    expect(header).toMatch(/^JOB\s+STATE\s+PROJECT\s+BY\s+PROGRESS$/);
    expect(row).toMatch(new RegExp(`^${jobId}\\s+submitted\\s+starspec-m1-wfe\\s+antoine`));
    const json = JSON.parse((await cli(["list", "--json", "--status", "submitted"])).stdout);
    expect(json.jobs.map((job: { job_id: string }) => job.job_id)).toContain(jobId);
  });

  test("wait shows live progress until the job is final", async () => {
    await acceptJob(queue, jobId);
    await startJob(queue, jobId);
    await reportProgress(queue, jobId, { trials_planned: 5, trials_complete: 2, best_value: 14.2 });
    await appendLog(queue, jobId, "trial 2/5\n");
    const child = spawn(process.execPath, [BIN, "wait", jobId, "--timeout", "40"], {
      cwd: REPO,
      env: { ...process.env, ATOMIZER_QUEUE_DIR: queue.root },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    // Finish the job only once wait has shown the running state: driven by its output, not a sleep.
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes("running")) resolve();
      });
    });
    expect(stdout).toMatch(/running - progress: 2\/5 trials done/);
    await finishJob(queue, jobId, "completed", { log: "trial 2/5\ndone\n" });
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/completed/);
  });

  test("log prints stdout.log; results copies and summarises; archive moves the job", async () => {
    const log = await cli(["log", jobId]);
    expect(log.stdout).toBe("trial 2/5\ndone\n");
    const results = await cli(["results", jobId, "--json"]);
    expect(results.code, results.stderr).toBe(0);
    expect(JSON.parse(results.stdout)).toMatchObject({
      job_id: jobId,
      complete: true,
      log_tail: ["trial 2/5", "done"],
    });
    const archived = await cli(["archive", jobId]);
    expect(archived.code, archived.stderr).toBe(0);
    expect(archived.stdout).toContain("archived (completed");
    expect(JSON.parse((await cli(["status", jobId, "--json"])).stdout)).toMatchObject({ state: "archived" });
  });

  test("cancel and runners", async () => {
    await writeHeartbeat(queue);
    const other = JSON.parse(
      (await cli(["submit", study, "--name", "mirror to cancel", "--project", "starspec-m1-wfe", "--json"]))
        .stdout,
    ).job_id;
    const cancelled = await cli(["cancel", other, "--reason", "wrong mesh"]);
    expect(cancelled.stdout).toContain("cancel requested");
    const runners = await cli(["runners"]);
    expect(runners.stdout).toMatch(/nx-workstation: active/);
  });

  test.each([
    [["status", "job-20990101-000000-nowhere"], 1, /no job job-20990101-000000-nowhere/],
    [["status"], 2, /give one JOB_ID/],
    [["list", "--status", "sleeping"], 2, /unknown --status sleeping/],
    [["submit", "/nonexistent", "--project", "x"], 2, /--name and --project are required/],
  ])("%j exits %i with a clear message", async (args, code, message) => {
    const result = await cli(args as string[]);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
  });

  test("a missing queue root is a clear start-up error", async () => {
    const result = await cli(["list"], { ATOMIZER_QUEUE_DIR: `${base}/no-queue-here` });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/atomizer-jobs init --queue/);
    const mcp = await cli(["mcp", "--queue", `${base}/no-queue-here`]);
    expect(mcp.code).toBe(1);
    expect(mcp.stderr).toMatch(/does not exist.*atomizer-jobs init/);
  });
});
