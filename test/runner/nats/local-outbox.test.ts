import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { generateKeyPairFiles, loadSigningKey, readJob } from "../../../protocol/index.ts";
import { requeueClaim } from "../../../protocol/nats-claims.ts";
import type { NatsQueue } from "../../../protocol/nats-connect.ts";
import { openNats } from "../../../protocol/nats-connect.ts";
import {
  jobKey,
  LicencePoolSchema,
  licenceKey,
  SubmissionRecordSchema,
} from "../../../protocol/nats-layout.ts";
import { readRecord } from "../../../protocol/nats-records.ts";
import type { RunningNats } from "../../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../../helpers/nats-server.ts";
import { waitFor } from "../helpers/make-job.ts";
import type { InProcessRunner } from "./helpers/bridge-parts.ts";
import { startInProcessRunner } from "./helpers/bridge-parts.ts";
import { runnerFolders } from "./helpers/nats-runners.ts";
import { claimOf, runOf, submitOverNats } from "./helpers/nats-submitter.ts";

// How the bridge puts jobs into the runner's local queue and takes them out again: a submission whose
// files cannot be had ends failed after a few tries; a job whose lease is lost is stopped by the
// runner itself, so a runner that honours only signed cancel requests stops it too.

describe.runIf(natsServerPresent())("local outbox: downloads and stops", () => {
  let nats: RunningNats;
  let q: NatsQueue;
  let base: string;
  let runner: InProcessRunner | undefined;

  beforeEach(async () => {
    nats = await startNatsServer();
    q = await openNats({ url: nats.url });
    base = await mkdtemp(path.join(tmpdir(), "atomizer-nats-outbox-"));
  });
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    await q.close().catch(() => undefined);
    await nats.stop();
    await rm(base, { recursive: true, force: true, maxRetries: 5 });
  });

  test("a submission whose object is gone ends failed after the tries, with its claim, licence and message let go", async () => {
    const host = "ws-download";
    const jobId = await submitOverNats(q, base, {
      name: "missing object",
      script: "noop.py",
      scriptText: "print('hi')\n",
      files: { "model.prt": "geometry\n" },
    });
    const sub = await readRecord(q.kv, jobKey(jobId, "sub"), SubmissionRecordSchema);
    const model = sub?.value.files.find((file) => file.path === "model.prt");
    if (!model) throw new Error("no model.prt in the submission");
    await q.objects.delete(model.object);
    runner = await startInProcessRunner({
      url: nats.url,
      base,
      host,
      nats: { licences: { nx: 1 }, downloadTries: 2, downloadRetryS: 0.2, leaseS: 30 },
    });
    const claim = await waitFor(
      () => `${jobId} done; runner log:\n${runner?.output()}`,
      async () => {
        const current = await claimOf(q, jobId);
        return current?.state === "done" ? current : undefined;
      },
    );
    expect(claim).toMatchObject({ host, outcome: "failed" });
    const run = await runOf(q, jobId);
    expect(run?.job.status).toBe("failed");
    expect(run?.job.error?.kind).toBe("incomplete_transfer");
    expect(run?.job.error?.message).toContain("2 tries");
    expect((await readRecord(q.kv, licenceKey("nx"), LicencePoolSchema))?.value.held).toEqual({});
    expect((await q.jsm.streams.info("ATOMIZER_DISPATCH")).state.messages).toBe(0);
    expect(runner.lines.filter((line) => line.includes("download failed")).length).toBe(1);
  });

  test("a runner with --trust-key stops a signed job whose claim was requeued under it", async () => {
    const host = "ws-signed";
    const pair = await generateKeyPairFiles(path.join(base, "keys"), "manager");
    const key = await loadSigningKey(pair.privatePath);
    runner = await startInProcessRunner({
      url: nats.url,
      base,
      host,
      nats: { leaseS: 4 },
      config: { trustKeys: [pair.publicPath] },
    });
    const jobId = await submitOverNats(q, base, {
      name: "signed sleep",
      script: "sleep.py",
      scriptText: "import time\ntime.sleep(60)\n",
      sign: key,
    });
    await waitFor(
      () => `${jobId} running; runner log:\n${runner?.output()}`,
      async () => ((await runOf(q, jobId))?.job.status === "running" ? true : undefined),
    );
    expect((await requeueClaim(q.kv, jobId, new Date(Date.now() + 10_000))).ok).toBe(true);
    const inbox = path.join(runnerFolders(base, host).queue, "inbox", jobId);
    const local = await waitFor(
      () => `${jobId} stopped locally; runner log:\n${runner?.output()}`,
      async () => {
        const job = await readJob(inbox).catch(() => undefined);
        return job?.status === "cancelled" ? job : undefined;
      },
      15_000,
    );
    expect(local.error?.message).toContain("claim lease lost: the claim was put back in the queue");
  });
});
