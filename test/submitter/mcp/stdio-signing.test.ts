// The submitting side of signed jobs over real stdio servers: one with keys (signs as "submitter",
// trusts the workstation's records), one without. A fixture plays the runner's heartbeat and signed
// inbox records; the tests share the file's queue and run in order.
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { describe, expect } from "vitest";
import type { CancelRequest, Job, RunnerHeartbeat } from "../../../protocol/index.ts";
import {
  loadSigningKey,
  loadTrustedKeys,
  verifyCancelSignature,
  verifyJobSignature,
  writeJsonAtomic,
} from "../../../protocol/index.ts";
import { call, callOk, connectStdio, serverFlags, textOf } from "../fixtures/mcp-clients.ts";
import { acceptJob, finishJob, RUNNER_HOST, writeHeartbeat } from "../fixtures/runner-fixture.ts";
import { keyFlags, makeKeys, signInboxRecord } from "../fixtures/signing-fixture.ts";
import { stdioTest } from "../fixtures/stdio-session.ts";

const test = stdioTest
  .extend("keys", { scope: "file" }, ({ base }) => makeKeys(base))
  /** Two servers on the queue: [with keys, without]. */
  .extend("servers", { scope: "file" }, async ({ queue, base, keys }, { onCleanup }) => {
    const flags = serverFlags(queue, base, { role: "admin", agent: "study-builder" });
    const keyed = await connectStdio([
      ...flags,
      ...keyFlags({ signing: keys.submitter, trust: [keys.workstation] }),
    ]);
    const plain = await connectStdio(flags);
    onCleanup(async () => {
      await keyed.client.close();
      await plain.client.close();
    });
    return { keyed: keyed.client, plain: plain.client };
  });

const QUICK = { project: "starspec-m1-wfe", args: ["--trials", "2"] };

async function submitWith(client: Client, study: string, name: string, extra: Record<string, unknown> = {}) {
  return callOk<{ job_id: string; signed_by?: string; existing: boolean }>(client, "submit_job", {
    study_dir: study,
    name,
    ...QUICK,
    ...extra,
  });
}

async function outboxJob(queueOutbox: string, jobId: string): Promise<Job> {
  return JSON.parse(await readFile(join(queueOutbox, jobId, "job.json"), "utf8")) as Job;
}

describe("signed jobs, submitting side (stdio)", () => {
  test("a server with --signing-key signs job.json, says by which key, and finds it again by idempotency_key", async ({
    servers,
    queue,
    study,
    keys,
  }) => {
    const first = await submitWith(servers.keyed, study, "signed study", { idempotency_key: "signed-1" });
    expect(first.signed_by).toBe(keys.submitter.keyId);
    const check = verifyJobSignature(
      await outboxJob(queue.outbox, first.job_id),
      await loadTrustedKeys([keys.submitter.pub]),
    );
    expect(check).toMatchObject({ ok: true, keyId: keys.submitter.keyId });
    const other = verifyJobSignature(
      await outboxJob(queue.outbox, first.job_id),
      await loadTrustedKeys([keys.stranger.pub]),
    );
    expect(other).toMatchObject({ ok: false, check: "unknown_key" });

    const again = await call(servers.keyed, "submit_job", {
      study_dir: study,
      name: "signed study",
      ...QUICK,
      idempotency_key: "signed-1",
    });
    expect(again.structuredContent).toMatchObject({
      job_id: first.job_id,
      existing: true,
      signed_by: keys.submitter.keyId,
    });
    expect(textOf(again)).toContain(`signed by ${keys.submitter.keyId}`);
  });

  test("a server without a key writes an unsigned job and says nothing of signing", async ({
    servers,
    queue,
    study,
  }) => {
    const result = await call(servers.plain, "submit_job", {
      study_dir: study,
      name: "plain study",
      ...QUICK,
    });
    const { job_id: jobId, signed_by: signedBy } = result.structuredContent as {
      job_id: string;
      signed_by?: string;
    };
    expect(signedBy).toBeUndefined();
    expect(textOf(result)).not.toContain("signed by");
    expect((await outboxJob(queue.outbox, jobId)) as Record<string, unknown>).not.toHaveProperty("signature");
  });

  test("cancel_job signs its request and replaces an unsigned one found in its place", async ({
    servers,
    queue,
    study,
    keys,
  }) => {
    const { job_id: jobId } = await submitWith(servers.keyed, study, "cancel me");
    const path = join(queue.cancelDir, `${jobId}.json`);
    await mkdir(queue.cancelDir, { recursive: true });
    // A forged request written first: the runner would ignore it, so it must not block ours.
    await writeJsonAtomic(path, {
      job_id: jobId,
      requested_at: new Date().toISOString(),
      requested_by: "intruder",
    });
    const first = await callOk<{ already_requested: boolean; requested_by: string }>(
      servers.keyed,
      "cancel_job",
      { job_id: jobId, reason: "wrong mesh" },
    );
    expect(first).toMatchObject({ already_requested: false, requested_by: "study-builder" });
    const request = JSON.parse(await readFile(path, "utf8")) as CancelRequest;
    expect(verifyCancelSignature(request, await loadTrustedKeys([keys.submitter.pub]))).toMatchObject({
      ok: true,
    });
    const again = await callOk<{ already_requested: boolean }>(servers.keyed, "cancel_job", {
      job_id: jobId,
    });
    expect(again.already_requested).toBe(true);
  });

  test("submit_job refuses, before copying, what the live runner would refuse as untrusted", async ({
    servers,
    queue,
    study,
    keys,
  }) => {
    // The keyed server trusts the workstation's key: it believes only heartbeats that key signed.
    const cases: {
      beat: Partial<RunnerHeartbeat>;
      server: "keyed" | "plain";
      refused?: RegExp;
      forged?: true;
    }[] = [
      {
        beat: { trusted_keys: [keys.stranger.keyId] },
        server: "keyed",
        refused: /signed by ed25519:[0-9a-f]{16}.*--signing-key whose key id the runner trusts/s,
      },
      { beat: { trusted_keys: [keys.stranger.keyId] }, server: "keyed", forged: true, refused: undefined },
      {
        beat: { trusted_keys: [keys.stranger.keyId] },
        server: "plain",
        refused: /jobs are unsigned.*--signing-key FILE/s,
      },
      {
        beat: { trusted_keys: [keys.submitter.keyId] },
        server: "plain",
        refused: /would refuse this one as untrusted/,
      },
      { beat: { trusted_keys: [keys.submitter.keyId] }, server: "keyed", refused: undefined },
      {
        beat: { trusted_keys: [keys.stranger.keyId], stopped_at: new Date().toISOString() },
        server: "plain",
        refused: undefined,
      },
      { beat: {}, server: "plain", refused: undefined },
    ];
    const workstation = await loadSigningKey(keys.workstation.key);
    for (const [index, { beat, server, refused, forged }] of cases.entries()) {
      await writeHeartbeat(queue, beat, forged ? undefined : workstation);
      const before = (await readdir(queue.outbox)).length;
      const result = await call(servers[server], "submit_job", {
        study_dir: study,
        name: `trust case ${index}`,
        ...QUICK,
      });
      const label = `case ${index} (${server})`;
      if (refused) {
        expect(result.isError, label).toBe(true);
        expect(textOf(result), label).toMatch(refused);
        expect(textOf(result), label).toContain(RUNNER_HOST);
        expect((await readdir(queue.outbox)).length, label).toBe(before);
        expect(await readdir(join(queue.root, ".staging")), label).toEqual([]);
      } else expect(result.isError, `${label}: ${textOf(result)}`).toBeFalsy();
    }

    await writeHeartbeat(queue, { trusted_keys: [keys.submitter.keyId], record_key: keys.workstation.keyId });
    const status = await call(servers.plain, "runner_status");
    expect(textOf(status)).toContain(
      `runs only signed jobs (trusts ${keys.submitter.keyId}), signs its records as ${keys.workstation.keyId}`,
    );
    expect((status.structuredContent as { runners: unknown[] }).runners[0]).toMatchObject({
      trusted_keys: [keys.submitter.keyId],
    });
    await writeHeartbeat(queue, {});
    expect(textOf(await call(servers.plain, "runner_status"))).toContain("accepts unsigned jobs");
    await rm(join(queue.runnersDir, `${RUNNER_HOST}.json`));
  });

  const tamperFinish = (job: Job): Job => ({ ...job, finished_at: "2020-01-01T00:00:00Z" });
  test.for([
    {
      label: "verified",
      signer: "workstation",
      tamper: undefined,
      server: "keyed",
      line: /^runner_signature: verified \(ed25519:/m,
    },
    {
      label: "unsigned",
      signer: undefined,
      tamper: undefined,
      server: "keyed",
      line: /^WARNING runner_signature: unsigned: the inbox job\.json it carries no signature; these results cannot be shown/m,
    },
    {
      label: "invalid",
      signer: "workstation",
      tamper: tamperFinish,
      server: "keyed",
      line: /^WARNING runner_signature: invalid .*changed after/m,
    },
    {
      label: "unknown_key",
      signer: "stranger",
      tamper: undefined,
      server: "keyed",
      line: /^WARNING runner_signature: unknown_key .*--trust-key/m,
    },
    {
      label: "not_checked",
      signer: "workstation",
      tamper: undefined,
      server: "plain",
      line: /^runner_signature: not checked \(ed25519:.*no --trust-key/m,
    },
  ] as const)(
    "fetch_results reports the runner's signature: $label",
    async ({ label, signer, tamper, server, line }, { servers, queue, study, keys }) => {
      const { job_id: jobId } = await submitWith(servers.keyed, study, `fetch ${label}`);
      await acceptJob(queue, jobId);
      await finishJob(queue, jobId, "completed", {
        files: { "3_results/summary.csv": "trial,value\n0,1.5\n" },
      });
      await signInboxRecord(queue, jobId, signer ? keys[signer] : undefined, tamper);
      const result = await call(servers[server], "fetch_results", { job_id: jobId, max_images: 0 });
      expect(result.isError, textOf(result)).toBeFalsy();
      const summary = result.structuredContent as Record<string, unknown>;
      expect(summary).toMatchObject({ runner_signature: label, complete: true });
      expect(summary.runner_key_id).toBe(signer ? keys[signer].keyId : undefined);
      expect(textOf(result)).toMatch(line);
      // Copied all the same: the warning is for the agent to weigh, not a lost result.
      expect(await readFile(join(String(summary.work_dir), "3_results", "summary.csv"), "utf8")).toContain(
        "1.5",
      );
    },
  );

  test("job_status of a job the workstation refused as untrusted says what to change", async ({
    servers,
    queue,
    study,
  }) => {
    const { job_id: jobId } = await submitWith(servers.plain, study, "untrusted study");
    await acceptJob(queue, jobId);
    const message = `job ${jobId} was not run: it carries no signature`;
    await finishJob(queue, jobId, "failed", {}, { error: { kind: "untrusted", message } });
    const text = textOf(await call(servers.plain, "job_status", { job_id: jobId }));
    expect(text).toContain(`untrusted: ${message}`);
    expect(text).toMatch(/^next: the workstation ran nothing of .*--signing-key FILE .*runner_status/m);
  });
});
