import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { readJob } from "../../../protocol/index.ts";
import { claimJob, renewClaim, requeueClaim, takeLicences } from "../../../protocol/nats-claims.ts";
import type { NatsQueue } from "../../../protocol/nats-connect.ts";
import { openNats } from "../../../protocol/nats-connect.ts";
import { jobKey, LicencePoolSchema, licenceKey } from "../../../protocol/nats-layout.ts";
import { readRecord } from "../../../protocol/nats-records.ts";
import { natsSetup } from "../../../protocol/nats-setup.ts";
import type { HeldClaim } from "../../../runner/nats/bridge-context.ts";
import { commitDone, renewOne } from "../../../runner/nats/claim-lease.ts";
import type { CliProcess } from "../../helpers/atomizer-jobs.ts";
import type { RunningNats } from "../../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../../helpers/nats-server.ts";
import { waitFor } from "../helpers/make-job.ts";
import { handContext } from "./helpers/bridge-parts.ts";
import { runnerFolders, startNatsRunner } from "./helpers/nats-runners.ts";
import { claimOf, runOf, submitOverNats } from "./helpers/nats-submitter.ts";

// The lease: a runner that cannot renew its claim within half the lease stops its own job, so a host
// cut off from NATS never runs on beside a job the pool may hand out again.

const SLEEP_JOB = "import time\ntime.sleep(60)\n";
const HOST = "ws-lease";

describe.runIf(natsServerPresent())("runner --nats claim lease", () => {
  let nats: RunningNats;
  let q: NatsQueue;
  let base: string;
  let runner: CliProcess;

  beforeEach(async () => {
    nats = await startNatsServer();
    q = await openNats({ url: nats.url });
    base = await mkdtemp(path.join(tmpdir(), "atomizer-nats-lease-"));
    runner = startNatsRunner({
      url: nats.url,
      base,
      host: HOST,
      extra: ["--lease-s", "4", "--kill-grace", "1"],
    });
  });

  afterEach(async () => {
    if (runner.child.exitCode === null && runner.child.signalCode === null) {
      runner.child.kill("SIGTERM");
      await runner.exited;
    }
    await q.close().catch(() => undefined);
    await nats.stop();
    await rm(base, { recursive: true, force: true, maxRetries: 5 });
  });

  const submitRunning = async (name: string) => {
    const jobId = await submitOverNats(q, base, { name, script: "sleep.py", scriptText: SLEEP_JOB });
    await waitFor(
      () => `${jobId} running; runner log:\n${runner.output()}`,
      async () => ((await runOf(q, jobId))?.job.status === "running" ? true : undefined),
    );
    return jobId;
  };
  const localJob = (jobId: string) =>
    readJob(path.join(runnerFolders(base, HOST).queue, "inbox", jobId)).catch(() => undefined);

  test("NATS unreachable past half the lease: the job is stopped, and committed cancelled once NATS is back", async () => {
    const jobId = await submitRunning("cut off");
    await q.close();
    nats.kill("SIGKILL");
    const local = await waitFor(
      () => `${jobId} stopped locally; runner log:\n${runner.output()}`,
      async () => {
        const job = await localJob(jobId);
        return job?.status === "cancelled" ? job : undefined;
      },
      20_000,
    );
    expect(local.error?.message).toContain("claim lease lost: no renew for");
    await nats.restart();
    q = await openNats({ url: nats.url });
    // Nobody else wrote the claim meanwhile: it is still this host's, so the end is committed.
    const claim = await waitFor(
      () => `${jobId} committed; runner log:\n${runner.output()}`,
      async () => {
        const current = await claimOf(q, jobId);
        return current?.state === "done" ? current : undefined;
      },
      20_000,
    );
    expect(claim).toMatchObject({ host: HOST, outcome: "cancelled", attempt: 1 });
    expect((await runOf(q, jobId))?.job.error?.message).toContain("claim lease lost");
  });

  test("a claim requeued under it: the job is stopped at the next renew and this runner never takes it again", async () => {
    const jobId = await submitRunning("requeued");
    // Renewed every third of the lease: it runs on past the lease (4 s) while the claim stays its own.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect((await localJob(jobId))?.status).toBe("running");
    // An operator's requeue is refused while the lease holds: made as if from past its end.
    const requeued = await requeueClaim(q.kv, jobId, new Date(Date.now() + 10_000));
    expect(requeued.ok).toBe(true);
    const local = await waitFor(
      () => `${jobId} stopped locally; runner log:\n${runner.output()}`,
      async () => {
        const job = await localJob(jobId);
        return job?.status === "cancelled" ? job : undefined;
      },
    );
    expect(local.error?.message).toContain("claim lease lost: the claim was put back in the queue");
    // Its ledger knows the id: the job stays queued for another host.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await claimOf(q, jobId)).toMatchObject({ state: "queued", attempt: 1 });
  });
});

// The lease's answers from KV, against the bare bridge parts: a write of this host whose answer was
// lost, and a claim deleted (retired) right after the final record.
describe.runIf(natsServerPresent())("claim lease: answers lost on the way back", () => {
  let nats: RunningNats;
  let q: NatsQueue;
  let base: string;
  const host = "ws-fence";

  beforeEach(async () => {
    nats = await startNatsServer();
    q = await openNats({ url: nats.url });
    base = await mkdtemp(path.join(tmpdir(), "atomizer-nats-fence-"));
  });
  afterEach(async () => {
    await q.close().catch(() => undefined);
    await nats.stop();
    await rm(base, { recursive: true, force: true, maxRetries: 5 });
  });

  /** A job claimed by this host, then renewed once more by it whose answer "was lost": held at the old revision. */
  const heldWithLostRenew = async (name: string) => {
    const hand = await handContext(q, base, host, { leaseS: 30 });
    const jobId = await submitOverNats(q, base, { name, script: "noop.py", scriptText: "pass\n" });
    const claimed = await claimJob(q.kv, jobId, host, 30, new Date());
    if (!claimed.ok) throw new Error(`claim of ${jobId} failed`);
    const landed = await renewClaim(q.kv, jobId, host, claimed.revision, 30, new Date());
    expect(landed.ok).toBe(true);
    const held: HeldClaim = {
      jobId,
      revision: claimed.revision,
      attempt: 1,
      licences: [],
      lastOkMs: Date.now(),
      lastTryMs: 0,
    };
    hand.ctx.book.add(held);
    return { hand, jobId, held, landedRevision: landed.ok ? landed.revision : 0 };
  };

  test("a renew that landed though its answer was lost: the next renew takes it from there, the job runs on", async () => {
    const { hand, jobId, held, landedRevision } = await heldWithLostRenew("lost renew");
    await renewOne(hand.ctx, held);
    expect(hand.stops, hand.lines.join("")).toEqual([]);
    expect(hand.ctx.book.get(jobId)).toBe(held);
    expect(held.revision).toBeGreaterThan(landedRevision);
    expect(await claimOf(q, jobId)).toMatchObject({ state: "claimed", host, attempt: 1 });
  });

  test("a commit after a renew whose answer was lost lands", async () => {
    const { hand, jobId, held } = await heldWithLostRenew("lost renew then commit");
    await commitDone(hand.ctx, held, "completed");
    expect(hand.stops).toEqual([]);
    expect(await claimOf(q, jobId)).toMatchObject({ state: "done", host, outcome: "completed" });
    expect(hand.ctx.book.has(jobId)).toBe(false);
  });

  test("a claim deleted after the final record: finished here, the licence back, no stop", async () => {
    await natsSetup(q.nc, { licences: { nx: 2 } });
    const hand = await handContext(q, base, host, { leaseS: 30 });
    const jobId = await submitOverNats(q, base, { name: "retired", script: "noop.py", scriptText: "pass\n" });
    expect((await takeLicences(q.kv, ["nx"], jobId, host, new Date())).ok).toBe(true);
    const claimed = await claimJob(q.kv, jobId, host, 30, new Date());
    if (!claimed.ok) throw new Error("claim failed");
    const held: HeldClaim = {
      jobId,
      revision: claimed.revision,
      attempt: 1,
      licences: ["nx"],
      lastOkMs: Date.now(),
      lastTryMs: 0,
      runText: '{"status":"completed"}',
    };
    hand.ctx.book.add(held);
    await q.kv.delete(jobKey(jobId, "claim"));
    await commitDone(hand.ctx, held, "completed");
    expect(hand.stops).toEqual([]);
    expect(hand.ctx.book.has(jobId)).toBe(false);
    expect((await readRecord(q.kv, licenceKey("nx"), LicencePoolSchema))?.value.held).toEqual({});
  });

  test("a claim taken from under it: the job is stopped and this host's licence goes back", async () => {
    await natsSetup(q.nc, { licences: { nx: 2 } });
    const hand = await handContext(q, base, host, { leaseS: 30 });
    const jobId = await submitOverNats(q, base, {
      name: "requeued",
      script: "noop.py",
      scriptText: "pass\n",
    });
    expect((await takeLicences(q.kv, ["nx"], jobId, host, new Date())).ok).toBe(true);
    const claimed = await claimJob(q.kv, jobId, host, 30, new Date());
    if (!claimed.ok) throw new Error("claim failed");
    const held: HeldClaim = {
      jobId,
      revision: claimed.revision,
      attempt: 1,
      licences: ["nx"],
      lastOkMs: Date.now(),
      lastTryMs: 0,
    };
    hand.ctx.book.add(held);
    expect((await requeueClaim(q.kv, jobId, new Date(Date.now() + 60_000))).ok).toBe(true);
    await renewOne(hand.ctx, held);
    expect(hand.stops).toEqual([{ jobId, reason: "claim lease lost: the claim was put back in the queue" }]);
    expect((await readRecord(q.kv, licenceKey("nx"), LicencePoolSchema))?.value.held).toEqual({});
  });
});
