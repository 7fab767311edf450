// The licence pool on a real nats-server: never more holders than the limit under concurrent takers,
// all classes or none, and taking or returning twice changes nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { returnLicences, STALE_LICENCE_MS, takeLicences } from "../../protocol/nats-claims.ts";
import type { NatsQueue } from "../../protocol/nats-connect.ts";
import { openNats } from "../../protocol/nats-connect.ts";
import type { LicencePool } from "../../protocol/nats-layout.ts";
import { LicencePoolSchema, licenceKey } from "../../protocol/nats-layout.ts";
import { decodeRecord, readRecord } from "../../protocol/nats-records.ts";
import { natsSetup } from "../../protocol/nats-setup.ts";
import type { RunningNats } from "../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../helpers/nats-server.ts";

const NOW = new Date("2026-12-02T10:00:00.000Z");

describe.runIf(natsServerPresent())("licence pools", () => {
  let server: RunningNats;
  /** Four connections shared by the takers: contention across clients, not only within one. */
  let queues: NatsQueue[];
  beforeAll(async () => {
    server = await startNatsServer();
    queues = await Promise.all(
      [0, 1, 2, 3].map((n) => openNats({ url: server.url }, {}, { name: `taker-${n}` })),
    );
  });
  afterAll(async () => {
    await Promise.all(queues.map((q) => q.close()));
    await server?.stop();
  });

  const kvOf = (n: number) => (queues[n % queues.length] as NatsQueue).kv;

  async function pool(licenceClass: string): Promise<LicencePool | undefined> {
    return (await readRecord(kvOf(0), licenceKey(licenceClass), LicencePoolSchema))?.value;
  }

  /** Every revision the pool passes through, to check the limit held at each, not only at the end. */
  async function watchPool(licenceClass: string): Promise<{ seen: LicencePool[]; stop(): void }> {
    const seen: LicencePool[] = [];
    const key = licenceKey(licenceClass);
    const watch = await kvOf(0).watch({ key });
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation === "PUT") seen.push(decodeRecord(key, entry.value, LicencePoolSchema));
      }
    })();
    return { seen, stop: () => watch.stop() };
  }

  it("20 concurrent takers of a pool of 4: exactly 4 hold one, never more, the rest are told why", async () => {
    await natsSetup(queues[0]?.nc as NatsQueue["nc"], { licences: { nx: 4 } });
    const watch = await watchPool("nx");
    const jobs = Array.from({ length: 20 }, (_, n) => `job-take-${n}`);
    const outcomes = await Promise.all(
      jobs.map((jobId, n) => takeLicences(kvOf(n), ["nx"], jobId, `ws-${n % 4}`, NOW)),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(4);
    for (const o of outcomes.filter((o) => !o.ok))
      expect(o).toEqual({ ok: false, waitingFor: "nx licence: 4 of 4 in use across the pool" });
    const held = Object.keys((await pool("nx"))?.held ?? {});
    expect(held.sort()).toEqual(jobs.filter((_, n) => outcomes[n]?.ok).sort());
    await new Promise((resolve) => setTimeout(resolve, 200));
    watch.stop();
    expect(watch.seen.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...watch.seen.map((p) => Object.keys(p.held).length))).toBe(4);

    // a returned licence is taken by the next one that asks
    const holder = held[0] as string;
    await returnLicences(kvOf(1), ["nx"], holder, (await pool("nx"))?.held[holder]?.host as string);
    expect(await takeLicences(kvOf(2), ["nx"], "job-take-next", "ws-2", NOW)).toEqual({ ok: true });
    expect(await takeLicences(kvOf(3), ["nx"], "job-take-late", "ws-3", NOW)).toMatchObject({ ok: false });
  });

  it("all classes or none: a full second class returns the first, under 20 concurrent takers", async () => {
    await natsSetup(queues[0]?.nc as NatsQueue["nc"], { licences: { abaqus: 3, ansys: 1 } });
    const watch = await watchPool("abaqus");
    const jobs = Array.from({ length: 20 }, (_, n) => `job-both-${n}`);
    const outcomes = await Promise.all(
      jobs.map((jobId, n) => takeLicences(kvOf(n), ["ansys", "abaqus"], jobId, "ws", NOW)),
    );
    const winners = jobs.filter((_, n) => outcomes[n]?.ok);
    expect(winners).toHaveLength(1);
    // classes are taken in name order: a loser waits on whichever pool it found full
    const full = /^(abaqus licence: 3 of 3|ansys licence: 1 of 1) in use across the pool$/;
    for (const o of outcomes.filter((o) => !o.ok))
      expect(o).toEqual({ ok: false, waitingFor: expect.stringMatching(full) });
    // the losers returned the abaqus licence they took first
    expect(Object.keys((await pool("abaqus"))?.held ?? {})).toEqual(winners);
    expect(Object.keys((await pool("ansys"))?.held ?? {})).toEqual(winners);
    await new Promise((resolve) => setTimeout(resolve, 200));
    watch.stop();
    expect(Math.max(...watch.seen.map((p) => Object.keys(p.held).length))).toBeLessThanOrEqual(3);
  });

  it("taking again for a job that holds its licences succeeds and holds one, even when the pool is full", async () => {
    await natsSetup(queues[0]?.nc as NatsQueue["nc"], { licences: { solo: 1 } });
    expect(await takeLicences(kvOf(0), ["solo"], "job-again", "ws-a", NOW)).toEqual({ ok: true });
    expect(await takeLicences(kvOf(1), ["solo", "solo"], "job-again", "ws-a", NOW)).toEqual({ ok: true });
    expect(Object.keys((await pool("solo"))?.held ?? {})).toEqual(["job-again"]);
    expect((await pool("solo"))?.held["job-again"]).toEqual({ host: "ws-a", at: NOW.toISOString() });
    await returnLicences(kvOf(0), ["solo"], "job-again", "ws-a");
    await returnLicences(kvOf(0), ["solo"], "job-again", "ws-a");
    expect((await pool("solo"))?.held).toEqual({});
  });

  it("one job's licence is one host's: a second host is told to wait, and its return leaves the first's in place", async () => {
    await natsSetup(queues[0]?.nc as NatsQueue["nc"], { licences: { single: 1 } });
    expect(await takeLicences(kvOf(0), ["single"], "job-x", "ws-a", NOW)).toEqual({ ok: true });
    expect(await takeLicences(kvOf(1), ["single"], "job-x", "ws-b", NOW)).toEqual({
      ok: false,
      waitingFor: `single licence for job-x: taken by ws-a at ${NOW.toISOString()}, which is claiming it`,
    });
    await returnLicences(kvOf(1), ["single"], "job-x", "ws-b");
    expect((await pool("single"))?.held).toEqual({ "job-x": { host: "ws-a", at: NOW.toISOString() } });
    expect(await takeLicences(kvOf(2), ["single"], "job-y", "ws-c", NOW)).toMatchObject({ ok: false });
  });

  it("an entry left by a host that died between taking and claiming is taken over once stale, and counted once", async () => {
    await natsSetup(queues[0]?.nc as NatsQueue["nc"], { licences: { lone: 1 } });
    expect(await takeLicences(kvOf(0), ["lone"], "job-z", "ws-dead", NOW)).toEqual({ ok: true });
    const later = new Date(NOW.getTime() + STALE_LICENCE_MS + 1000);
    expect(await takeLicences(kvOf(1), ["lone"], "job-z", "ws-b", later)).toEqual({ ok: true });
    expect((await pool("lone"))?.held).toEqual({ "job-z": { host: "ws-b", at: later.toISOString() } });
  });

  it("a class with no pool is waited for, saying which runner option creates it; returning to it is a no-op", async () => {
    expect(await takeLicences(kvOf(0), ["matlab"], "job-nopool", "ws-a", NOW)).toEqual({
      ok: false,
      waitingFor:
        "matlab licence: no pool licence.matlab yet (a runner started with --licences matlab=N creates it)",
    });
    await expect(returnLicences(kvOf(0), ["matlab"], "job-nopool", "ws-a")).resolves.toBeUndefined();
  });

  it("no classes: nothing to take", async () => {
    expect(await takeLicences(kvOf(0), [], "job-free", "ws-a", NOW)).toEqual({ ok: true });
  });
});
