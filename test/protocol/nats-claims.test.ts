// The claim fence and the licence pool on a real nats-server: CAS decides, a lost race is an outcome,
// and the late ack of a dead first delivery (nats-server issue 4786) cannot undo a claim.
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  claimJob,
  commitClaim,
  createQueuedClaim,
  renewClaim,
  requeueClaim,
} from "../../protocol/nats-claims.ts";
import type { NatsQueue } from "../../protocol/nats-connect.ts";
import { openNats } from "../../protocol/nats-connect.ts";
import { ClaimRecordSchema, jobKey } from "../../protocol/nats-layout.ts";
import { readRecord } from "../../protocol/nats-records.ts";
import { natsSetup } from "../../protocol/nats-setup.ts";
import type { RunningNats } from "../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../helpers/nats-server.ts";

const T0 = new Date("2026-12-02T10:00:00.000Z");
const later = (s: number) => new Date(T0.getTime() + s * 1000);

describe.runIf(natsServerPresent())("claims", () => {
  let server: RunningNats;
  let a: NatsQueue;
  let b: NatsQueue;
  beforeAll(async () => {
    server = await startNatsServer();
    // two runners, each with its own connection, as on two workstations
    a = await openNats({ url: server.url }, {}, { name: "runner-a" });
    b = await openNats({ url: server.url }, {}, { name: "runner-b" });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await server?.stop();
  });

  it("createQueuedClaim writes queued attempt 0; a second one for the id is refused as taken", async () => {
    const revision = await createQueuedClaim(a.kv, "job-create", T0);
    expect(await readRecord(a.kv, jobKey("job-create", "claim"), ClaimRecordSchema)).toEqual({
      value: { state: "queued", queued_at: T0.toISOString(), attempt: 0 },
      revision,
    });
    await expect(createQueuedClaim(b.kv, "job-create", T0)).rejects.toThrow(/job id job-create is taken/);
  });

  it("two claimers at once: exactly one wins, the loser sees the winner's claim (50 races)", async () => {
    for (let race = 0; race < 50; race++) {
      const jobId = `job-race-${race}`;
      await createQueuedClaim(a.kv, jobId, T0);
      const [byA, byB] = await Promise.all([
        claimJob(a.kv, jobId, "ws-a", 600, T0),
        claimJob(b.kv, jobId, "ws-b", 600, T0),
      ]);
      const winners = [byA, byB].filter((o) => o.ok);
      expect(winners).toHaveLength(1);
      const winner = winners[0];
      const loser = byA.ok ? byB : byA;
      if (!winner?.ok || loser.ok) throw new Error("unreachable");
      expect(winner.claim).toMatchObject({
        state: "claimed",
        attempt: 1,
        lease_until: later(600).toISOString(),
      });
      expect(loser.current).toEqual(winner.claim);
      expect(loser.revision).toBe(winner.revision);
    }
  });

  it("a job with no claim record cannot be claimed", async () => {
    expect(await claimJob(a.kv, "job-never-submitted", "ws-a", 60, T0)).toEqual({
      ok: false,
      current: undefined,
    });
  });

  it("renew and commit: only the holder, only from its last revision", async () => {
    const jobId = "job-holder";
    await createQueuedClaim(a.kv, jobId, T0);
    const claimed = await claimJob(a.kv, jobId, "ws-a", 60, T0);
    if (!claimed.ok) throw new Error("claim failed");

    const cases: Array<[string, () => Promise<{ ok: boolean }>]> = [
      ["renew by another host", () => renewClaim(b.kv, jobId, "ws-b", claimed.revision, 60, later(10))],
      [
        "commit by another host",
        () => commitClaim(b.kv, jobId, "ws-b", claimed.revision, "completed", later(10)),
      ],
      [
        "renew by the holder from a stale revision",
        () => renewClaim(a.kv, jobId, "ws-a", claimed.revision - 1, 60, later(10)),
      ],
      ["a second claim", () => claimJob(b.kv, jobId, "ws-b", 60, later(10))],
    ];
    for (const [what, attempt] of cases)
      expect({ what, ok: (await attempt()).ok }).toEqual({ what, ok: false });

    const renewed = await renewClaim(a.kv, jobId, "ws-a", claimed.revision, 60, later(20));
    expect(renewed).toMatchObject({
      ok: true,
      claim: {
        state: "claimed",
        host: "ws-a",
        lease_until: later(80).toISOString(),
        claimed_at: T0.toISOString(),
      },
    });
    if (!renewed.ok) throw new Error("renew failed");
    // the revision before the renewal no longer commits
    expect((await commitClaim(a.kv, jobId, "ws-a", claimed.revision, "completed", later(30))).ok).toBe(false);
    const done = await commitClaim(a.kv, jobId, "ws-a", renewed.revision, "failed", later(30));
    expect(done).toMatchObject({
      ok: true,
      claim: { state: "done", host: "ws-a", attempt: 1, outcome: "failed", done_at: later(30).toISOString() },
    });
    if (!done.ok) throw new Error("commit failed");
    // done is final for everyone, the holder included
    expect((await renewClaim(a.kv, jobId, "ws-a", done.revision, 60, later(40))).ok).toBe(false);
    expect((await commitClaim(a.kv, jobId, "ws-a", done.revision, "completed", later(40))).ok).toBe(false);
    expect(await requeueClaim(a.kv, jobId, later(40))).toMatchObject({
      ok: false,
      current: { state: "done" },
    });
  });

  it("requeue refuses a claim whose lease holds, and turns a lapsed one back into queued, keeping the attempt count", async () => {
    const jobId = "job-requeue";
    await createQueuedClaim(a.kv, jobId, T0);
    expect((await claimJob(a.kv, jobId, "ws-a", 60, T0)).ok).toBe(true);
    // while the lease holds (up to and including lease_until) the claim stays its host's
    for (const at of [later(30), later(60)])
      expect(await requeueClaim(b.kv, jobId, at)).toMatchObject({
        ok: false,
        current: { state: "claimed", host: "ws-a", lease_until: later(60).toISOString() },
      });
    expect(await requeueClaim(b.kv, jobId, later(3600))).toMatchObject({
      ok: true,
      claim: { state: "queued", attempt: 1 },
    });
    expect(await requeueClaim(b.kv, jobId, later(3600))).toMatchObject({
      ok: false,
      current: { state: "queued" },
    });
    expect(await claimJob(b.kv, jobId, "ws-b", 60, later(3601))).toMatchObject({
      ok: true,
      claim: { host: "ws-b", attempt: 2 },
    });
  });

  it("refuses a lease that is not a positive number of seconds", async () => {
    await createQueuedClaim(a.kv, "job-lease", T0);
    await expect(claimJob(a.kv, "job-lease", "ws-a", 0, T0)).rejects.toThrow(/lease 0 s/);
  });
});

describe.runIf(natsServerPresent())("the late ack of a dead first delivery (nats-server issue 4786)", () => {
  let server: RunningNats;
  let a: NatsQueue;
  let b: NatsQueue;
  beforeAll(async () => {
    server = await startNatsServer();
    // AckWait 1 s so the redelivery comes quickly; the later openNats setups keep it (they name none)
    const nc = await connect({ servers: server.url });
    await natsSetup(nc, { ackWaitS: 1 });
    await nc.close();
    a = await openNats({ url: server.url }, {}, { name: "runner-a" });
    b = await openNats({ url: server.url }, {}, { name: "runner-b" });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await server?.stop();
  });

  it("the server takes A's late ack and drops the message, yet B's claim stands and B commits", async () => {
    const jobId = "job-late-ack";
    await createQueuedClaim(a.kv, jobId, T0);
    await a.js.publish("atomizer.dispatch", jobId, { msgID: jobId });

    const consumerA = await a.js.consumers.get("ATOMIZER_DISPATCH", "runners");
    const consumerB = await b.js.consumers.get("ATOMIZER_DISPATCH", "runners");
    const first = await consumerA.next({ expires: 2000 });
    expect(first?.string()).toBe(jobId);
    expect(first?.info.deliveryCount).toBe(1);
    // A stalls past AckWait (1 s) without acking: the server redelivers to B
    const second = await consumerB.next({ expires: 5000 });
    expect(second?.string()).toBe(jobId);
    expect(second?.info.deliveryCount).toBe(2);
    expect(second?.info.streamSequence).toBe(first?.info.streamSequence);
    const byB = await claimJob(b.kv, jobId, "ws-b", 600, later(2));
    expect(byB.ok).toBe(true);
    if (!byB.ok) throw new Error("unreachable");

    expect((await a.jsm.streams.info("ATOMIZER_DISPATCH")).state.messages).toBe(1);
    // A wakes up and acks its dead delivery: the server accepts it and the work-queue message is gone
    first?.ack();
    await a.nc.flush();
    await waitFor(async () => (await a.jsm.streams.info("ATOMIZER_DISPATCH")).state.messages === 0);
    expect((await a.jsm.streams.info("ATOMIZER_DISPATCH")).state.messages).toBe(0);

    // ... but the claim is the truth: still B's, A cannot claim, B commits
    expect((await readRecord(a.kv, jobKey(jobId, "claim"), ClaimRecordSchema))?.value).toEqual(byB.claim);
    expect(await claimJob(a.kv, jobId, "ws-a", 600, later(3))).toMatchObject({
      ok: false,
      current: { state: "claimed", host: "ws-b" },
    });
    expect(await commitClaim(b.kv, jobId, "ws-b", byB.revision, "completed", later(60))).toMatchObject({
      ok: true,
      claim: { state: "done", host: "ws-b", outcome: "completed" },
    });
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
