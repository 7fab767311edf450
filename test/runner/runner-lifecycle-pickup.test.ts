// A real runner picking up jobs: it starts a job only once every listed file has arrived and verified,
// fails one whose content stays wrong, never runs a finished job twice, and runs a plain SYS_19 job.
import { existsSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect } from "vitest";
import { makeJobId, publishDirectory, writeJsonAtomic } from "../../protocol/index.ts";
import {
  buildJobFiles,
  deliverLikeSyncthing,
  inboxJob,
  readLines,
  readText,
  submitJob,
  submittedJob,
  waitForStatus,
} from "./helpers/make-job.ts";
import { runnerTest as test, testConfig } from "./helpers/runner-harness.ts";

const PYTHON = "python3";

describe("picking up jobs", () => {
  test("a job whose model file arrives after job.json starts only once every file is verified", async ({
    queue,
    startRunner,
  }) => {
    const model = Buffer.alloc(3 * 1024 * 1024, 7);
    model.write("model header", 0);
    const jobId = makeJobId("late model file", new Date());
    const staging = path.join(queue.base, "staging", jobId);
    const manifest = await buildJobFiles(staging, {
      name: "x",
      fixture: "digest.py",
      files: { "1_setup/m1.prt": model },
    });
    await writeJsonAtomic(
      path.join(staging, "job.json"),
      submittedJob(
        jobId,
        { name: "x", fixture: "digest.py", args: ["1_setup/m1.prt"] },
        manifest,
        new Date(),
      ),
    );
    // Syncthing delivers job.json and the script first; the model file comes later.
    await rm(path.join(staging, "1_setup"), { recursive: true });
    await publishDirectory(staging, path.join(queue.paths.outbox, jobId));
    const running = await startRunner(testConfig(queue, PYTHON));
    await running.waitForLog(jobId, "waiting", "missing: 1_setup/m1.prt");
    await deliverLikeSyncthing(
      path.join(queue.paths.outbox, jobId, "1_setup", ".syncthing.m1.prt.tmp.partial"),
      "",
    );
    await rm(path.join(queue.paths.outbox, jobId, "1_setup", ".syncthing.m1.prt.tmp.partial"));
    expect(await inboxJob(queue, jobId)).toBeUndefined();
    await deliverLikeSyncthing(path.join(queue.paths.outbox, jobId, "1_setup", "m1.prt"), model);
    const done = await waitForStatus(queue, jobId, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    const wanted = manifest.find((f) => f.path === "1_setup/m1.prt");
    expect(await readText(path.join(queue.paths.inbox, jobId, "stdout.log"))).toContain(
      `size ${model.length} sha256 ${wanted?.sha256}`,
    );
  });

  test("a file with the right size but the wrong content waits, then fails as incomplete_transfer; fixed in time, it runs", async ({
    queue,
    startRunner,
  }) => {
    const broken = await submitJob(queue, {
      name: "wrong content",
      fixture: "digest.py",
      args: ["data.bin"],
      files: { "data.bin": "good data" },
    });
    const fixable = await submitJob(queue, {
      name: "fixable content",
      fixture: "digest.py",
      args: ["data.bin"],
      files: { "data.bin": "good data" },
    });
    await writeFile(path.join(queue.paths.outbox, broken, "data.bin"), "evil data");
    await writeFile(path.join(queue.paths.outbox, fixable, "data.bin"), "bad! data");
    const running = await startRunner(testConfig(queue, PYTHON, { graceS: 2.5 }));
    await running.waitForLog(fixable, "waiting", "content differs (sha256): data.bin");
    await deliverLikeSyncthing(path.join(queue.paths.outbox, fixable, "data.bin"), "good data");
    expect((await waitForStatus(queue, fixable, ["completed", "failed"])).status).toBe("completed");
    const failed = await waitForStatus(queue, broken, ["failed", "completed"]);
    expect(failed.error?.kind).toBe("incomplete_transfer");
    expect(failed.error?.message).toContain("content differs (sha256): data.bin");
    expect(failed.error?.missing_files).toEqual(["data.bin"]);
    expect(failed.started_at).toBeUndefined();
  });

  test("a finished job whose folder disappears and comes back never runs again", async ({
    queue,
    startRunner,
  }) => {
    const running = await startRunner(testConfig(queue, PYTHON));
    const counter = path.join(queue.scratch, "runs.txt");
    const jobId = await submitJob(queue, {
      name: "run once only",
      fixture: "interleave.py",
      args: [counter],
    });
    await waitForStatus(queue, jobId, ["completed"]);
    const kept = path.join(queue.base, "kept");
    // The submitting side archives the job: its outbox entry goes, so the runner cleans up.
    await rename(path.join(queue.paths.outbox, jobId), kept);
    await running.waitForLog(jobId, "work copy removed");
    expect(existsSync(path.join(queue.paths.inbox, jobId))).toBe(false);
    expect(existsSync(path.join(queue.work, jobId))).toBe(false);
    await rename(kept, path.join(queue.paths.outbox, jobId));
    await running.waitForLog(jobId, "ignored", "never runs twice");
    expect(await readLines(counter)).toEqual([jobId]);
    expect(existsSync(path.join(queue.paths.inbox, jobId))).toBe(false);
  });

  test("a plain SYS_19 job without manifest runs once its folder has settled", async ({
    queue,
    startRunner,
  }) => {
    await startRunner(testConfig(queue, PYTHON, { settleS: 0.5 }));
    const jobId = makeJobId("plain seed job", new Date());
    const staging = path.join(queue.base, "staging", jobId);
    await buildJobFiles(staging, {
      name: "x",
      fixture: "interleave.py",
      files: { "README.md": "what it does" },
    });
    await writeJsonAtomic(
      path.join(staging, "job.json"),
      submittedJob(jobId, { name: "x", fixture: "interleave.py" }, undefined, new Date()),
    );
    await publishDirectory(staging, path.join(queue.paths.outbox, jobId));
    const done = await waitForStatus(queue, jobId, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    expect(done.files?.map((f) => f.path)).toEqual(["README.md", "interleave.py"]);
    expect(done.schema_version).toBeUndefined();
  });
});
