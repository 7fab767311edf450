// A runner with trusted keys (--trust-key) runs only jobs whose signature verifies: every way a job can
// reach outbox/ without a good signature ends failed/untrusted, and nothing of it is copied or run (its
// script would leave a marker outside the job and the queue).
import { existsSync } from "node:fs";
import { appendFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect } from "vitest";
import { makeJobId, publishDirectory, signJob, writeJsonAtomic } from "../../protocol/index.ts";
import type { JobSpec, TestQueue } from "./helpers/make-job.ts";
import { buildJobFiles, readLines, submittedJob, waitForStatus } from "./helpers/make-job.ts";
import { runnerTest as test, testConfig } from "./helpers/runner-harness.ts";
import type { Staged, TestKey } from "./helpers/signed-job.ts";
import { makeKey, notCopied, rebuildManifest, submitSignedJob } from "./helpers/signed-job.ts";

const PYTHON = "python3";

/** A job whose script appends its id to `marker` (outside the queue) the moment it runs. */
function markerJob(queue: TestQueue, name: string): { spec: JobSpec; marker: string } {
  const marker = path.join(queue.scratch, `${name.replace(/\W+/g, "-")}.ran`);
  return {
    marker,
    spec: {
      name,
      fixture: "counted_sleep.py",
      args: [marker, "0"],
      files: { "1_setup/m1.prt": "model rev A" },
    },
  };
}

interface Keys {
  trusted: TestKey;
  stranger: TestKey;
}

interface RefusedCase {
  name: string;
  /** Submits the job (or places it) and returns its id. */
  place: (queue: TestQueue, spec: JobSpec, keys: Keys) => Promise<string>;
  message: string;
}

const signedThen =
  (tamper: (staged: Staged) => Promise<void> | void) => (queue: TestQueue, spec: JobSpec, keys: Keys) =>
    submitSignedJob(queue, spec, keys.trusted.key, tamper);

const REFUSED: RefusedCase[] = [
  {
    name: "placed straight into outbox without a signature",
    place: (queue, spec) => submitSignedJob(queue, spec, undefined),
    message:
      "it carries no signature, and this runner runs only signed jobs (--trust-key); submit it through the MCP server",
  },
  {
    name: "signed by an unknown key",
    place: (queue, spec, keys) => submitSignedJob(queue, spec, keys.stranger.key),
    message: "which is not trusted here",
  },
  {
    name: "script changed after signing, manifest updated",
    place: signedThen(async (staged) => {
      await appendFile(path.join(staged.dir, "counted_sleep.py"), "\nprint('also this')\n");
      await rebuildManifest(staged);
    }),
    message: "does not match its contents",
  },
  {
    name: "argument changed after signing",
    place: signedThen((staged) => {
      staged.job.args = [...staged.job.args.slice(0, 1), "0.1"];
    }),
    message: "does not match its contents",
  },
  {
    name: "model file changed after signing, manifest updated",
    place: signedThen(async (staged) => {
      await writeFile(path.join(staged.dir, "1_setup", "m1.prt"), "model rev B, bigger");
      await rebuildManifest(staged);
    }),
    message: "does not match its contents",
  },
  {
    name: "model file changed after signing, manifest as signed",
    // Same size, other content: complete to every size check, and still not what was signed.
    place: signedThen((staged) => writeFile(path.join(staged.dir, "1_setup", "m1.prt"), "model rev B")),
    message: "1_setup/m1.prt differs from the signed manifest (sha256): changed after signing",
  },
  {
    name: "signature removed from job.json",
    place: signedThen((staged) => {
      delete staged.job.signature;
    }),
    message: "it carries no signature",
  },
  {
    name: "signature copied from another signed job",
    place: (queue, spec, keys) =>
      submitSignedJob(queue, spec, undefined, (staged) => {
        // The same files and run, signed by the trusted key for another job id.
        const donorId = makeJobId(`${spec.name} donor`, new Date(Date.now() - 60_000));
        const donor = signJob(
          { ...staged.job, job_id: donorId, files: staged.job.files ?? [] },
          keys.trusted.key,
        );
        staged.job.signature = donor.signature;
      }),
    message:
      "does not match its contents: something it covers changed after signing, or the signature was copied",
  },
  {
    name: "a plain SYS_19 job without manifest",
    place: async (queue, spec) => {
      const jobId = makeJobId(spec.name, new Date());
      const staging = path.join(queue.base, "staging", jobId);
      await buildJobFiles(staging, spec);
      await writeJsonAtomic(path.join(staging, "job.json"), submittedJob(jobId, spec, undefined, new Date()));
      await publishDirectory(staging, path.join(queue.paths.outbox, jobId));
      return jobId;
    },
    message: "it has no file manifest (a plain SYS_19 job), so it cannot be signed",
  },
];

describe("a runner with trusted keys", () => {
  test.for(REFUSED)(
    "refuses a job $name as untrusted, and nothing of it runs",
    async ({ place, message }, { queue, startRunner }) => {
      const keys = { trusted: await makeKey(queue, "submitter"), stranger: await makeKey(queue, "stranger") };
      const { spec, marker } = markerJob(queue, "refused job");
      const running = await startRunner(testConfig(queue, PYTHON, { trustKeys: [keys.trusted.publicPath] }));
      const jobId = await place(queue, spec, keys);
      const done = await waitForStatus(queue, jobId, ["failed", "completed", "cancelled"]);
      expect(done.status).toBe("failed");
      expect(done.error?.kind).toBe("untrusted");
      expect(done.error?.message).toContain(`job ${jobId} was not run: `);
      expect(done.error?.message).toContain(message);
      expect(done.started_at).toBeUndefined();
      await running.waitForLog(jobId, "failed", "untrusted");
      expect(existsSync(marker)).toBe(false);
      expect(notCopied(queue, jobId)).toBe(true);
    },
  );

  test("runs a job signed by a trusted key, with its model file", async ({ queue, startRunner }) => {
    const key = await makeKey(queue, "submitter");
    const { spec, marker } = markerJob(queue, "signed job");
    await startRunner(testConfig(queue, PYTHON, { trustKeys: [key.publicPath] }));
    const jobId = await submitSignedJob(queue, spec, key.key);
    const done = await waitForStatus(queue, jobId, ["failed", "completed"]);
    expect(done.status, done.error?.message).toBe("completed");
    expect(await readLines(marker)).toEqual([jobId]);
  });

  test("with two trusted keys (rotation) runs jobs signed by either, and only those", async ({
    queue,
    startRunner,
  }) => {
    const old = await makeKey(queue, "submitter-2025");
    const next = await makeKey(queue, "submitter-2026");
    const retired = await makeKey(queue, "submitter-2024");
    await startRunner(testConfig(queue, PYTHON, { trustKeys: [old.publicPath, next.publicPath] }));
    const outcomes = await Promise.all(
      [
        { key: old, name: "signed with the old key" },
        { key: next, name: "signed with the new key" },
        { key: retired, name: "signed with a retired key" },
      ].map(async ({ key, name }) => {
        const { spec, marker } = markerJob(queue, name);
        const jobId = await submitSignedJob(queue, spec, key.key);
        const done = await waitForStatus(queue, jobId, ["failed", "completed"]);
        return { name, status: done.status, kind: done.error?.kind, ran: existsSync(marker) };
      }),
    );
    expect(outcomes).toEqual([
      { name: "signed with the old key", status: "completed", kind: undefined, ran: true },
      { name: "signed with the new key", status: "completed", kind: undefined, ran: true },
      { name: "signed with a retired key", status: "failed", kind: "untrusted", ran: false },
    ]);
  });
});

describe("a runner without trusted keys", () => {
  test("keeps waiting for a file whose content differs, as before signatures", async ({
    queue,
    startRunner,
  }) => {
    const key = await makeKey(queue, "submitter");
    const { spec, marker } = markerJob(queue, "unkeyed runner");
    const running = await startRunner(testConfig(queue, PYTHON));
    const jobId = await submitSignedJob(queue, spec, key.key, (staged) =>
      writeFile(path.join(staged.dir, "1_setup", "m1.prt"), "model rev B"),
    );
    await running.waitForLog(jobId, "waiting", "content differs (sha256): 1_setup/m1.prt");
    // Several looks later (rescans every 0.3 s) it still waits for the right content: no refusal.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(running.lines.some((line) => line.includes(jobId) && line.includes("untrusted"))).toBe(false);
    await writeFile(path.join(queue.paths.outbox, jobId, "1_setup", "m1.prt"), "model rev A");
    expect((await waitForStatus(queue, jobId, ["completed", "failed"])).status).toBe("completed");
    expect(await readLines(marker)).toEqual([jobId]);
  });
});
