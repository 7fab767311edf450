// The operator's way out of a dead host's claim, against a real nats-server: refused while the lease
// holds (whatever --force says) or while the host's heartbeat is fresh (unless --force); otherwise the
// claim is queued again, the host's licences for the job go back and the job is dispatched again.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { requeueJob } from "../../cli/nats-requeue-command.ts";
import { claimJob, createQueuedClaim, takeLicences } from "../../protocol/nats-claims.ts";
import type { NatsQueue } from "../../protocol/nats-connect.ts";
import { openNats } from "../../protocol/nats-connect.ts";
import {
  ClaimRecordSchema,
  jobKey,
  LicencePoolSchema,
  licenceKey,
  NATS_DISPATCH_STREAM,
  NATS_DISPATCH_SUBJECT,
} from "../../protocol/nats-layout.ts";
import { readRecord } from "../../protocol/nats-records.ts";
import { natsSetup } from "../../protocol/nats-setup.ts";
import { runAtomizerJobs } from "../helpers/atomizer-jobs.ts";
import type { RunningNats } from "../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../helpers/nats-server.ts";
import { putHeartbeat } from "../submitter/fixtures/nats-fixture.ts";

let server: RunningNats;
let q: NatsQueue;

beforeAll(async () => {
  if (!natsServerPresent()) return;
  server = await startNatsServer();
  q = await openNats({ url: server.url }, {}, { name: "requeue-test" });
  await natsSetup(q.nc, { licences: { nx: 20, abaqus: 1 } });
});

afterAll(async () => {
  await q?.close();
  await server?.stop();
});

const NOW = Date.now();
const ago = (s: number) => new Date(NOW - s * 1000);

/** A job claimed by `host` at `claimedAt` with a lease of `leaseS`, holding an nx licence, dispatched once. */
async function claimedJob(jobId: string, host: string, claimedAt: Date, leaseS: number): Promise<void> {
  await createQueuedClaim(q.kv, jobId, claimedAt);
  await q.js.publish(NATS_DISPATCH_SUBJECT, jobId, { msgID: jobId });
  expect((await takeLicences(q.kv, ["nx"], jobId, host, claimedAt)).ok).toBe(true);
  expect((await claimJob(q.kv, jobId, host, leaseS, claimedAt)).ok).toBe(true);
}

async function heartbeat(host: string, lastSeen: Date, intervalS = 10): Promise<void> {
  const beat = {
    host,
    version: "0.0.0-test",
    slots: 1,
    running: [],
    queued: [],
    started_at: ago(86_400).toISOString(),
    last_seen: lastSeen.toISOString(),
    interval_s: intervalS,
  };
  await putHeartbeat(q, host, `${JSON.stringify(beat, null, 2)}\n`);
}

const messages = async () => (await q.jsm.streams.info(NATS_DISPATCH_STREAM)).state.messages;
const claimOf = async (jobId: string) =>
  (await readRecord(q.kv, jobKey(jobId, "claim"), ClaimRecordSchema))?.value;
const nxHolders = async () =>
  Object.keys((await readRecord(q.kv, licenceKey("nx"), LicencePoolSchema))?.value.held ?? {});

describe.runIf(natsServerPresent())("nats-requeue", () => {
  test.each([
    ["the lease holds, even forced", "ws-lease", 600, 5, true, /holds until .*--force does not skip this/s],
    [
      "the heartbeat is fresh (25 s, every 10 s)",
      "ws-fresh",
      60,
      25,
      false,
      /host ws-fresh last seen 25 s ago/,
    ],
  ])(
    "refused when %s; the claim, licence and stream stay",
    async (_what, host, leaseS, seenS, force, message) => {
      const jobId = `job-20260210-143022-${host}`;
      await claimedJob(jobId, host, ago(120), leaseS);
      await heartbeat(host, ago(seenS));
      const before = await messages();
      const refused = await requeueJob(q, jobId, force, new Date(NOW)).catch((error: Error) => error);
      expect(refused).toBeInstanceOf(Error);
      const error = refused as Error & { hint?: string };
      expect(`${error.message} ${error.hint}`).toMatch(message);
      expect(await claimOf(jobId)).toMatchObject({ state: "claimed", host });
      expect(await nxHolders()).toContain(jobId);
      expect(await messages()).toBe(before);
    },
  );

  test.each([
    ["its heartbeat is 3 intervals old", "ws-silent", 31, false, false],
    ["it has no heartbeat", "ws-gone", undefined, false, false],
    ["its heartbeat is fresh but --force says it is gone", "ws-forced", 5, true, true],
  ])(
    "requeued when %s: queued, licence back, dispatched again",
    async (_what, host, seenS, force, forced) => {
      const jobId = `job-20260210-143022-${host}`;
      await claimedJob(jobId, host, ago(120), 60);
      if (seenS !== undefined) await heartbeat(host, ago(seenS));
      const before = await messages();
      const done = await requeueJob(q, jobId, force, new Date(NOW));
      expect(done).toMatchObject({ job_id: jobId, host, attempt: 1, forced, licences_returned: ["nx"] });
      expect(await claimOf(jobId)).toMatchObject({ state: "queued", attempt: 1 });
      expect(await nxHolders()).not.toContain(jobId);
      // the first dispatch (message id = job id) is still in the dedupe window: this one is not dropped
      expect(await messages()).toBe(before + 1);
      expect(await claimJob(q.kv, jobId, "ws-next", 60, new Date(NOW))).toMatchObject({
        ok: true,
        claim: { host: "ws-next", attempt: 2 },
      });
    },
  );

  test("a queued job, or one NATS does not know, is refused", async () => {
    await createQueuedClaim(q.kv, "job-20260210-143022-queued", ago(5));
    await expect(requeueJob(q, "job-20260210-143022-queued", true, new Date(NOW))).rejects.toThrow(
      /queued already: only a claimed job is requeued/,
    );
    await expect(requeueJob(q, "job-20260210-143022-unknown", true, new Date(NOW))).rejects.toThrow(
      /no job job-20260210-143022-unknown is queued there/,
    );
  });

  test("the command: registered, exit 1 with the advice when refused, exit 0 and JSON when done", async () => {
    const jobId = "job-20260210-143022-cli";
    await claimedJob(jobId, "ws-cli", ago(120), 60);
    await heartbeat("ws-cli", ago(2));
    const refused = await runAtomizerJobs(["nats-requeue", jobId, "--nats", server.url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/host ws-cli last seen \d+ s ago.*add --force/s);
    const forced = await runAtomizerJobs(["nats-requeue", jobId, "--nats", server.url, "--force", "--json"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ job_id: jobId, host: "ws-cli", forced: true });
    const usage = await runAtomizerJobs(["nats-requeue", "not-a-job", "--nats", server.url]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("is not a job id");
  });
});
