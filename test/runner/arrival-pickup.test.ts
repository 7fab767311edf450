// Pickup of a job delivered the way Syncthing delivers a new folder: the folder first, then each file
// through a temp name and a rename, the model file seconds after job.json. The rescan is 300 s, so only
// the runner's watch of the waiting job's folder can start the job within the bound below.
import { appendFile, mkdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeJobId } from "../../protocol/index.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { buildJobFiles, FIXTURES, makeQueue, submittedJob, waitForStatus } from "./helpers/make-job.ts";
import type { RunningRunner } from "./helpers/runner-harness.ts";
import { startRunner, testConfig } from "./helpers/runner-harness.ts";

const PYTHON = "python3";
const RESCAN_S = 300;
// Functional, not a speed goal: far below the 300 s rescan, with room for a loaded 2-core CI.
const REACTION_BOUND_MS = 2_000;
const MODEL = "1_setup/m1.prt";

let queue: TestQueue;
let running: RunningRunner | undefined;
beforeEach(async () => {
  queue = await makeQueue();
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await queue.cleanup();
});

type TempName = (name: string) => string;
const POSIX_TEMP: TempName = (name) => `.syncthing.${name}.tmp`;
const WINDOWS_TEMP: TempName = (name) => `~syncthing~${name}.tmp`;

/** Writes one job file as Syncthing does: a temp name in the same folder, filled in chunks, then renamed. */
async function deliver(jobDir: string, relative: string, content: Buffer, temp: TempName): Promise<void> {
  const target = path.join(jobDir, ...relative.split("/"));
  await mkdir(path.dirname(target), { recursive: true });
  const staged = path.join(path.dirname(target), temp(path.basename(target)));
  const chunk = 256 * 1024;
  for (let at = 0; at < content.length || at === 0; at += chunk)
    await appendFile(staged, content.subarray(at, at + chunk));
  await rename(staged, target);
}

/** A job's files and job.json, built aside: what side A published and Syncthing is about to deliver. */
async function prepareJob(name: string): Promise<{ jobId: string; files: Map<string, Buffer> }> {
  const jobId = makeJobId(name, new Date());
  const model = Buffer.alloc(3 * 1024 * 1024, 7);
  model.write("model header", 0);
  const aside = path.join(queue.base, "staging", jobId);
  const manifest = await buildJobFiles(aside, { name, fixture: "digest.py", files: { [MODEL]: model } });
  const job = submittedJob(jobId, { name, fixture: "digest.py", args: [MODEL] }, manifest, new Date());
  const files = new Map<string, Buffer>([
    ["job.json", Buffer.from(`${JSON.stringify(job, null, 2)}\n`)],
    ["digest.py", await readFile(path.join(FIXTURES, "digest.py"))],
    [MODEL, model],
  ]);
  return { jobId, files };
}

async function reactionMs(runner: RunningRunner, jobId: string, since: number): Promise<number> {
  await runner.waitForLog(jobId, "started");
  return performance.now() - since;
}

describe("pickup as Syncthing delivers a job (rescan 300 s)", () => {
  it.each([
    { style: "POSIX .syncthing.NAME.tmp", temp: POSIX_TEMP },
    { style: "Windows ~syncthing~NAME.tmp", temp: WINDOWS_TEMP },
  ])("starts the job within a second or two of its last file ($style)", async ({ temp }) => {
    running = await startRunner(testConfig(queue, PYTHON, { rescanS: RESCAN_S }));
    const { jobId, files } = await prepareJob("syncthing order");
    const dir = path.join(queue.paths.outbox, jobId);
    await mkdir(dir);
    await running.waitForLog(jobId, "waiting", "job.json has not arrived");
    for (const name of ["digest.py", "job.json"]) await deliver(dir, name, files.get(name) as Buffer, temp);
    // Seen through the watch: the rescan is minutes away.
    await running.waitForLog(jobId, "waiting", `missing: ${MODEL}`);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await deliver(dir, MODEL, files.get(MODEL) as Buffer, temp);
    const landed = performance.now();
    expect(await reactionMs(running, jobId, landed)).toBeLessThan(REACTION_BOUND_MS);
    const done = await waitForStatus(queue, jobId, ["completed", "failed"]);
    expect(done.status).toBe("completed");
  });

  it("fails a job whose job.json lands broken without waiting for the rescan", async () => {
    running = await startRunner(testConfig(queue, PYTHON, { rescanS: RESCAN_S }));
    const jobId = makeJobId("broken on arrival", new Date());
    const dir = path.join(queue.paths.outbox, jobId);
    await mkdir(dir);
    await running.waitForLog(jobId, "waiting", "job.json has not arrived");
    await deliver(dir, "job.json", Buffer.from("{ not json"), POSIX_TEMP);
    const done = await waitForStatus(queue, jobId, ["failed"], REACTION_BOUND_MS + 1_000);
    expect(done.error?.kind).toBe("invalid_job");
  });

  it("watches a job folder that vanished and came back, so the new folder's last file starts it", async () => {
    running = await startRunner(testConfig(queue, PYTHON, { rescanS: RESCAN_S }));
    const { jobId, files } = await prepareJob("folder comes back");
    const dir = path.join(queue.paths.outbox, jobId);
    await mkdir(dir);
    await deliver(dir, "job.json", files.get("job.json") as Buffer, POSIX_TEMP);
    await running.waitForLog(jobId, "waiting", "missing: ");
    // Syncthing can carry a folder's replacement as a delete followed by a create.
    await rm(dir, { recursive: true });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await mkdir(dir);
    for (const name of ["job.json", "digest.py"])
      await deliver(dir, name, files.get(name) as Buffer, POSIX_TEMP);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await deliver(dir, MODEL, files.get(MODEL) as Buffer, POSIX_TEMP);
    const landed = performance.now();
    expect(await reactionMs(running, jobId, landed)).toBeLessThan(REACTION_BOUND_MS);
  });

  it("past the watch limit a waiting job is noted, and gets the watch the first job gives up", async () => {
    running = await startRunner(testConfig(queue, PYTHON, { rescanS: RESCAN_S, arrivalWatchLimit: 1 }));
    const first = await prepareJob("first of two");
    const second = await prepareJob("second of two");
    for (const { jobId, files } of [first, second]) {
      // Folder and job.json arrive together, so the outbox watch's own look finds the model missing.
      const aside = path.join(queue.base, "aside", jobId);
      await deliver(aside, "job.json", files.get("job.json") as Buffer, POSIX_TEMP);
      await rename(aside, path.join(queue.paths.outbox, jobId));
      await running.waitForLog(jobId, "waiting", "missing: ");
    }
    await running.waitForLog(second.jobId, "note", "1 job folders are watched already");
    for (const { jobId, files } of [first, second]) {
      const dir = path.join(queue.paths.outbox, jobId);
      for (const name of ["digest.py", MODEL])
        await deliver(dir, name, files.get(name) as Buffer, POSIX_TEMP);
      const landed = performance.now();
      expect(await reactionMs(running, jobId, landed)).toBeLessThan(REACTION_BOUND_MS);
      // One slot: the next job could only start once this one has ended.
      expect((await waitForStatus(queue, jobId, ["completed", "failed"])).status).toBe("completed");
    }
  });
});
