// natsSetup on a real nats-server: creates everything once, keeps it on every later run, and brings a
// named AckWait or licence limit to the new value without dropping who holds a licence.
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { takeLicences } from "../../protocol/nats-claims.ts";
import { openNats } from "../../protocol/nats-connect.ts";
import { LicencePoolSchema, licenceKey } from "../../protocol/nats-layout.ts";
import { readRecord } from "../../protocol/nats-records.ts";
import { natsSetup } from "../../protocol/nats-setup.ts";
import type { RunningNats } from "../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../helpers/nats-server.ts";

describe.runIf(natsServerPresent())("natsSetup", () => {
  let server: RunningNats;
  let nc: NatsConnection;
  beforeEach(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterEach(async () => {
    await nc?.close();
    await server?.stop();
  });

  it("creates on the first run; the second changes nothing and says kept", async () => {
    const first = await natsSetup(nc, { licences: { nx: 4 } });
    expect(first).toEqual([
      "KV bucket atomizer: created",
      "object store atomizer-files: created",
      "stream ATOMIZER_DISPATCH: created (work queue, duplicate window 120 s)",
      "consumer ATOMIZER_DISPATCH/runners: created (pull, explicit ack, AckWait 30 s)",
      "licence pool nx: created, limit 4",
    ]);
    const jsm = await jetstreamManager(nc);
    const before = await Promise.all(
      ["KV_atomizer", "OBJ_atomizer-files", "ATOMIZER_DISPATCH"].map((s) => jsm.streams.info(s)),
    );
    const q = await openNats({ url: server.url }, {}, { setup: false });
    const poolRevision = (await q.kv.get(licenceKey("nx")))?.revision;
    const second = await natsSetup(nc, { licences: { nx: 4 } });
    expect(second).toHaveLength(5);
    for (const line of second) expect(line).toMatch(/: kept/);
    const after = await Promise.all(
      ["KV_atomizer", "OBJ_atomizer-files", "ATOMIZER_DISPATCH"].map((s) => jsm.streams.info(s)),
    );
    expect(after.map((i) => i.config)).toEqual(before.map((i) => i.config));
    // the pool record was not rewritten: same revision
    expect(poolRevision).toBeGreaterThan(0);
    expect((await q.kv.get(licenceKey("nx")))?.revision).toBe(poolRevision);
    await q.close();

    const dispatch = after[2];
    expect(dispatch?.config.retention).toBe("workqueue");
    expect(dispatch?.config.duplicate_window).toBe(120e9);
    const consumer = await jsm.consumers.info("ATOMIZER_DISPATCH", "runners");
    expect(consumer.config).toMatchObject({
      durable_name: "runners",
      ack_policy: "explicit",
      ack_wait: 30e9,
    });
    expect(consumer.config.deliver_subject).toBeUndefined();
  });

  it("an AckWait named on a later run is applied; one not named keeps what is there", async () => {
    await natsSetup(nc, { ackWaitS: 5 });
    expect(await natsSetup(nc)).toContain("consumer ATOMIZER_DISPATCH/runners: kept (AckWait 5 s)");
    expect(await natsSetup(nc, { ackWaitS: 12 })).toContain(
      "consumer ATOMIZER_DISPATCH/runners: AckWait 5 s -> 12 s",
    );
    const jsm = await jetstreamManager(nc);
    expect((await jsm.consumers.info("ATOMIZER_DISPATCH", "runners")).config.ack_wait).toBe(12e9);
  });

  it("a changed licence limit is set by CAS and keeps the licences held", async () => {
    await natsSetup(nc, { licences: { nx: 2, ansys: 1 } });
    const q = await openNats({ url: server.url }, {}, { setup: false });
    try {
      expect(await takeLicences(q.kv, ["nx"], "job-a", "ws1", new Date())).toEqual({ ok: true });
      expect(await natsSetup(nc, { licences: { nx: 5 } })).toContain(
        "licence pool nx: limit 2 -> 5 (1 held, kept)",
      );
      const pool = await readRecord(q.kv, licenceKey("nx"), LicencePoolSchema);
      expect(pool?.value.limit).toBe(5);
      expect(Object.keys(pool?.value.held ?? {})).toEqual(["job-a"]);
      // a class not named is left as it was
      expect((await readRecord(q.kv, licenceKey("ansys"), LicencePoolSchema))?.value.limit).toBe(1);
    } finally {
      await q.close();
    }
  });

  it.each<[string, Record<string, number>, RegExp]>([
    ["a class name that is not a label", { NX: 2 }, /licence class "NX"/],
    ["a negative limit", { nx: -1 }, /whole number of licences/],
    ["a fractional limit", { nx: 1.5 }, /whole number of licences/],
  ])("refuses %s", async (_what, licences, problem) => {
    await expect(natsSetup(nc, { licences })).rejects.toThrow(problem);
  });

  it("refuses an AckWait that is not a positive number of seconds", async () => {
    await expect(natsSetup(nc, { ackWaitS: 0 })).rejects.toThrow(/AckWait 0 s/);
  });

  it("two processes running setup at the same time both succeed with one pool", async () => {
    const other = await connect({ servers: server.url });
    try {
      const [a, b] = await Promise.all([
        natsSetup(nc, { licences: { nx: 3 } }),
        natsSetup(other, { licences: { nx: 3 } }),
      ]);
      expect(a.at(-1)).toMatch(/licence pool nx: (created|kept), limit 3/);
      expect(b.at(-1)).toMatch(/licence pool nx: (created|kept), limit 3/);
    } finally {
      await other.close();
    }
  });
});
