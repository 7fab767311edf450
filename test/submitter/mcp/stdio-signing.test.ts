// The submitting side of signed jobs over real stdio servers: one with keys (signs as "submitter",
// trusts the workstation's records), one without. A fixture plays the runner's heartbeat and signed
// inbox records; the tests share the file's queue and run in order.
// On both backends (fixtures/stdio-backends.ts): on NATS the signed job.json, cancel request and
// runner records are carried by NATS between the server's mirror and the runner's local queue, and
// a test reads the runner's side (`queue`) only after `settle`.
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect } from "vitest";
import type { CancelRequest, Job, RunnerHeartbeat } from "../../../protocol/index.ts";
import {
  loadSigningKey,
  loadTrustedKeys,
  verifyCancelSignature,
  verifyJobSignature,
  writeJsonAtomic,
} from "../../../protocol/index.ts";
import { jobKey } from "../../../protocol/nats-layout.ts";
import { createRecord } from "../../../protocol/nats-records.ts";
import { call, callOk, textOf } from "../fixtures/mcp-clients.ts";
import {
  acceptJob,
  deliverWithheld,
  finishJob,
  RUNNER_HOST,
  writeHeartbeat,
} from "../fixtures/runner-fixture.ts";
import { cancelRequestIn, outboxJob, QUICK, submitWith, withServers } from "../fixtures/signed-servers.ts";
import { signInboxRecord } from "../fixtures/signing-fixture.ts";
import { stdioBackends } from "../fixtures/stdio-backends.ts";

// Extended here, not inside describe: vitest defines file-scoped fixtures only at the top level.
const backends = stdioBackends().map((backend) => ({ ...backend, test: withServers(backend.test) }));

describe.each(backends)("signed jobs, submitting side (stdio, $backend)", ({ test }) => {
  test("a server with --signing-key signs job.json, says by which key, and finds it again by idempotency_key", async ({
    servers,
    queue,
    settle,
    study,
    keys,
  }) => {
    const first = await submitWith(servers.keyed, study, "signed study", { idempotency_key: "signed-1" });
    expect(first.signed_by).toBe(keys.submitter.keyId);
    // Checked where the runner reads it: on NATS, as carried to the runner's queue.
    await settle();
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
    settle,
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
    await settle();
    expect((await outboxJob(queue.outbox, jobId)) as Record<string, unknown>).not.toHaveProperty("signature");
  });

  test("cancel_job signs its request and replaces an unsigned one found in its place", async ({
    servers,
    queue,
    mirror,
    nats,
    settle,
    study,
    keys,
  }) => {
    const { job_id: jobId } = await submitWith(servers.keyed, study, "cancel me");
    await settle();
    // A forged request written first: the runner would ignore it, so it must not block ours.
    const forged = { job_id: jobId, requested_at: new Date().toISOString(), requested_by: "intruder" };
    if (nats) {
      // On NATS a forgery travels as `job.<id>.cancel` in KV (the mirror is only the server's copy):
      // planted there as anyone with access to the bucket could, and carried into the mirror.
      const text = `${JSON.stringify(forged, null, 2)}\n`;
      const planted = await createRecord(nats.q.kv, jobKey(jobId, "cancel"), {
        text,
        written_at: new Date().toISOString(),
      });
      expect(planted).toBeDefined();
    } else {
      await mkdir(mirror.cancelDir, { recursive: true });
      await writeJsonAtomic(join(mirror.cancelDir, `${jobId}.json`), forged);
    }
    await cancelRequestIn(mirror, jobId, (request) => request.requested_by === "intruder");
    const first = await callOk<{ already_requested: boolean; requested_by: string }>(
      servers.keyed,
      "cancel_job",
      { job_id: jobId, reason: "wrong mesh" },
    );
    expect(first).toMatchObject({ already_requested: false, requested_by: "study-builder" });
    const trusted = await loadTrustedKeys([keys.submitter.pub]);
    const request = JSON.parse(
      await readFile(join(mirror.cancelDir, `${jobId}.json`), "utf8"),
    ) as CancelRequest;
    expect(verifyCancelSignature(request, trusted)).toMatchObject({ ok: true });
    // What the runner gets in place of the forgery is the signed request (on NATS, once carried).
    const atRunner = await cancelRequestIn(queue, jobId, (found) => found.requested_by !== "intruder");
    expect(atRunner).toEqual(request);
    expect(verifyCancelSignature(atRunner, trusted)).toMatchObject({ ok: true });
    const again = await callOk<{ already_requested: boolean }>(servers.keyed, "cancel_job", {
      job_id: jobId,
    });
    expect(again.already_requested).toBe(true);
  });

  test("submit_job refuses, before copying, what the live runner would refuse as untrusted", async ({
    servers,
    queue,
    mirror,
    settle,
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
      await settle();
      const before = (await readdir(mirror.outbox)).length;
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
        expect((await readdir(mirror.outbox)).length, label).toBe(before);
        expect(await readdir(join(mirror.root, ".staging")), label).toEqual([]);
      } else expect(result.isError, `${label}: ${textOf(result)}`).toBeFalsy();
    }

    await writeHeartbeat(queue, { trusted_keys: [keys.submitter.keyId], record_key: keys.workstation.keyId });
    await settle();
    const status = await call(servers.plain, "runner_status");
    expect(textOf(status)).toContain(
      `runs only signed jobs (trusts ${keys.submitter.keyId}), signs its records as ${keys.workstation.keyId}`,
    );
    expect((status.structuredContent as { runners: unknown[] }).runners[0]).toMatchObject({
      trusted_keys: [keys.submitter.keyId],
    });
    await writeHeartbeat(queue, {});
    await settle();
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
    async ({ label, signer, tamper, server, line }, { servers, queue, settle, study, keys }) => {
      const { job_id: jobId } = await submitWith(servers.keyed, study, `fetch ${label}`);
      await settle();
      await acceptJob(queue, jobId);
      // A runner signs its final record as it writes it; the fixture signs it after finishJob, so a
      // result is held back until then: NATS carries a job's final record once, when it has every
      // result it lists, and that must be the signed one.
      const csv = "trial,value\n0,1.5\n";
      await finishJob(queue, jobId, "completed", {
        files: { "3_results/summary.csv": csv },
        withhold: ["3_results/summary.csv"],
      });
      await signInboxRecord(queue, jobId, signer ? keys[signer] : undefined, tamper);
      await deliverWithheld(queue, jobId, { "3_results/summary.csv": csv });
      await settle();
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
    settle,
    study,
  }) => {
    const { job_id: jobId } = await submitWith(servers.plain, study, "untrusted study");
    await settle();
    await acceptJob(queue, jobId);
    const message = `job ${jobId} was not run: it carries no signature`;
    await finishJob(queue, jobId, "failed", {}, { error: { kind: "untrusted", message } });
    await settle();
    const text = textOf(await call(servers.plain, "job_status", { job_id: jobId }));
    expect(text).toContain(`untrusted: ${message}`);
    expect(text).toMatch(/^next: the workstation ran nothing of .*--signing-key FILE .*runner_status/m);
  });
});
