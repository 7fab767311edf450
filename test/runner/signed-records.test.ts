// A runner with its own key (--signing-key) signs every inbox job.json it writes, over its final
// content: the record of a run, its results manifest, and a refusal alike. Its heartbeat names the keys
// it trusts and its record key.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect } from "vitest";
import type { Job } from "../../protocol/index.ts";
import {
  loadTrustedKeys,
  RunnerHeartbeatSchema,
  verifyHeartbeatSignature,
  verifyRecordSignature,
} from "../../protocol/index.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { inboxJob, submitJob, waitFor, waitForStatus } from "./helpers/make-job.ts";
import { runnerTest as test, testConfig } from "./helpers/runner-harness.ts";
import { makeKey, submitSignedJob } from "./helpers/signed-job.ts";

const PYTHON = "python3";

async function heartbeat(queue: TestQueue) {
  const text = await readFile(path.join(queue.paths.inbox, ".runners", "test-host.json"), "utf8");
  return RunnerHeartbeatSchema.parse(JSON.parse(text));
}

describe("a runner with a signing key", () => {
  test("signs its records of a run, while running and at the end, results included", async ({
    queue,
    startRunner,
  }) => {
    const submitter = await makeKey(queue, "submitter");
    const workstation = await makeKey(queue, "workstation");
    await startRunner(
      testConfig(queue, PYTHON, {
        trustKeys: [submitter.publicPath],
        signingKey: workstation.privatePath,
      }),
    );
    const readers = await loadTrustedKeys([workstation.publicPath]);
    const counter = path.join(queue.scratch, "starts.txt");
    const jobId = await submitSignedJob(
      queue,
      { name: "signed record", fixture: "counted_sleep.py", args: [counter, "1.5"] },
      submitter.key,
    );
    const running = await waitForStatus(queue, jobId, ["running"]);
    expect(verifyRecordSignature(running, readers)).toMatchObject({ ok: true, keyId: workstation.key.keyId });
    const done = await waitForStatus(queue, jobId, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    expect(done.results?.files.map((file) => file.path)).toContain("3_results/done.txt");
    expect(verifyRecordSignature(done, readers)).toMatchObject({ ok: true, keyId: workstation.key.keyId });
    // What the signature covers cannot be changed without breaking it.
    const forgeries: Array<[string, Job]> = [
      ["exit code", { ...done, exit_code: 3 }],
      ["status", { ...done, status: "failed" }],
      [
        "a result file's hash",
        {
          ...done,
          results: done.results && {
            ...done.results,
            files: done.results.files.map((file) => ({ ...file, sha256: "0".repeat(64) })),
          },
        },
      ],
      ["the job it ran", { ...done, signature: { ...(done.signature as object), value: "AAAA" } } as Job],
    ];
    for (const [what, forged] of forgeries)
      expect(verifyRecordSignature(forged, readers), what).toMatchObject({ ok: false, check: "mismatch" });
    const beat = await heartbeat(queue);
    expect(beat.trusted_keys).toEqual([submitter.key.keyId]);
    expect(beat.record_key).toBe(workstation.key.keyId);
    // The heartbeat is signed too: nobody else can pose as this runner in inbox/.runners/.
    expect(verifyHeartbeatSignature(beat, readers)).toMatchObject({ ok: true, keyId: workstation.key.keyId });
    expect(
      verifyHeartbeatSignature({ ...beat, trusted_keys: ["ed25519:0000000000000000"] }, readers).ok,
    ).toBe(false);
  });

  test("signs the record of a job it refused", async ({ queue, startRunner }) => {
    const submitter = await makeKey(queue, "submitter");
    const workstation = await makeKey(queue, "workstation");
    await startRunner(
      testConfig(queue, PYTHON, { trustKeys: [submitter.publicPath], signingKey: workstation.privatePath }),
    );
    const jobId = await submitJob(queue, { name: "unsigned", fixture: "interleave.py" });
    const done = await waitForStatus(queue, jobId, ["failed", "completed"]);
    expect(done.error?.kind).toBe("untrusted");
    expect(verifyRecordSignature(done, await loadTrustedKeys([workstation.publicPath])).ok).toBe(true);
  });
});

describe("a runner without keys", () => {
  test("writes unsigned records, drops a runner_signature a submitter put in job.json, and its heartbeat names no keys", async ({
    queue,
    startRunner,
  }) => {
    await startRunner(testConfig(queue, PYTHON));
    const jobId = await submitJob(queue, {
      name: "no keys",
      fixture: "interleave.py",
      patch: { runner_signature: { alg: "ed25519", key_id: "ed25519:0000000000000000", value: "AAAA" } },
    });
    const done = await waitForStatus(queue, jobId, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    expect((await inboxJob(queue, jobId)) as Record<string, unknown>).not.toHaveProperty("runner_signature");
    const beat = await waitFor("the runner heartbeat", () => heartbeat(queue).catch(() => undefined));
    expect(beat.trusted_keys).toBeUndefined();
    expect(beat.record_key).toBeUndefined();
    expect(beat).not.toHaveProperty("signature");
  });
});
