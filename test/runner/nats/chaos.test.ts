import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { isTerminal } from "../../../protocol/index.ts";
import type { NatsQueue } from "../../../protocol/nats-connect.ts";
import { openNats } from "../../../protocol/nats-connect.ts";
import type { ClaimRecord } from "../../../protocol/nats-layout.ts";
import { LicencePoolSchema, licenceKey } from "../../../protocol/nats-layout.ts";
import { readRecord } from "../../../protocol/nats-records.ts";
import { natsSetup } from "../../../protocol/nats-setup.ts";
import type { CliProcess } from "../../helpers/atomizer-jobs.ts";
import type { RunningNats } from "../../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../../helpers/nats-server.ts";
import { CHAOS_JOB, maxConcurrency, parseChaosLog, startNatsRunner } from "./helpers/nats-runners.ts";
import { claimOf, runOf, submitOverNats, verifyResults } from "./helpers/nats-submitter.ts";

/**
 * The promise for several workstations: 3 runners (2 slots each) on one NATS queue, 60 short
 * jobs that all need the one pool-wide NX licence class (limit 4), runners SIGKILLed and restarted at
 * random until every job is done. No job starts twice, none is lost, every completed job's results
 * verify, and never more than 4 run at once: all read from what the jobs themselves wrote.
 */
const JOBS = 60;
const HOSTS = ["ws-a", "ws-b", "ws-c"];
const LIMIT = 4;
const DEADLINE_MS = 80_000;

// A fixed-seed generator: a failure can be replayed.
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(natsServerPresent())("runner --nats under chaos", () => {
  let nats: RunningNats;
  let q: NatsQueue;
  let base: string;
  const runners = new Map<string, CliProcess>();

  beforeAll(async () => {
    nats = await startNatsServer();
    q = await openNats({ url: nats.url });
    // A short AckWait: a message a killed runner had fetched and not yet claimed comes back soon.
    await natsSetup(q.nc, { ackWaitS: 10, licences: { nx: LIMIT } });
    base = await mkdtemp(path.join(tmpdir(), "atomizer-nats-chaos-"));
  });

  afterAll(async () => {
    for (const live of runners.values()) {
      if (live.child.exitCode === null && live.child.signalCode === null) {
        live.child.kill("SIGKILL");
        await live.exited;
      }
    }
    await q?.close();
    await nats?.stop();
    if (base) await rm(base, { recursive: true, force: true, maxRetries: 5 });
  });

  test(`${JOBS} jobs, ${HOSTS.length} runners SIGKILLed at random: none twice, none lost, results verified, licences <= ${LIMIT}`, async () => {
    const began = Date.now();
    const next = random(16);
    const shared = path.join(base, "jobs.log");
    const start = (host: string) =>
      runners.set(host, startNatsRunner({ url: nats.url, base, host, slots: 2, extra: ["--lease-s", "20"] }));
    for (const host of HOSTS) start(host);
    const ids: string[] = [];
    for (let n = 0; n < JOBS; n++) {
      const seconds = (0.2 + next() * 0.8).toFixed(2);
      ids.push(
        await submitOverNats(q, base, {
          name: `chaos ${n}`,
          script: "chaos_job.py",
          scriptText: CHAOS_JOB,
          args: [shared, seconds],
          createdAt: new Date(Date.UTC(2026, 0, 1) + n * 1000),
        }),
      );
    }

    const claims = async () => Promise.all(ids.map(async (id) => ({ id, claim: await claimOf(q, id) })));
    const allDone = async () => (await claims()).every(({ claim }) => claim?.state === "done");
    let kills = 0;
    let restarts = 0;
    const logs: string[] = [];
    while (Date.now() - began < DEADLINE_MS && !(await allDone())) {
      await pause(1000 + next() * 2000);
      const host = HOSTS[Math.floor(next() * HOSTS.length)] as string;
      const live = runners.get(host);
      if (!live) continue;
      live.child.kill("SIGKILL");
      await live.exited;
      kills++;
      logs.push(`--- ${host} (killed) ---\n${live.output()}`);
      await pause(next() * 300);
      start(host);
      restarts++;
    }
    // Past the deadline (a slow machine) the runners finish in peace; a job still open then is a failure below.
    const settleBy = Date.now() + 30_000;
    while (Date.now() < settleBy && !(await allDone())) await pause(250);
    const doneAt = Date.now();
    // A clean stop of each runner: what they print is kept for a failure message.
    for (const [host, live] of runners) {
      live.child.kill("SIGTERM");
      const code = await live.exited;
      logs.push(`--- ${host} (stopped, exit ${code}) ---\n${live.output()}`);
    }
    const history = () => logs.join("\n").slice(-20_000);

    const final = await claims();
    const notDone = final
      .filter(({ claim }) => claim?.state !== "done")
      .map(({ id, claim }) => `${id}: ${claim?.state}`);
    expect(notDone, `claims not done after ${kills} kills\n${history()}`).toEqual([]);
    const outcomes = new Map(
      final.map(({ id, claim }) => [id, (claim as Extract<ClaimRecord, { state: "done" }>).outcome]),
    );

    const lines = parseChaosLog(await readFile(shared, "utf8").catch(() => ""));
    const starts = new Map<string, number>();
    for (const line of lines.filter((l) => l.what === "start"))
      starts.set(line.job, (starts.get(line.job) ?? 0) + 1);
    const twice = [...starts].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice, "jobs started twice").toEqual([]);

    const runs = await Promise.all(ids.map(async (id) => ({ id, run: await runOf(q, id) })));
    const lost = runs
      .filter(({ run }) => !run || !isTerminal(run.job.status))
      .map(({ id, run }) => `${id}: ${run?.job.status}`);
    expect(lost, "jobs without a terminal run record").toEqual([]);
    for (const { id, run } of runs)
      expect(run?.job.status, `${id}: claim and run record agree`).toBe(outcomes.get(id));

    const completed = runs.filter(({ run }) => run?.job.status === "completed").map(({ id }) => id);
    const problems = (
      await Promise.all(completed.map((id) => verifyResults(q, id, path.join(base, "fetched", id))))
    ).flat();
    expect(problems, "results that do not verify").toEqual([]);
    // Every job that completed ran its script once, to its end.
    for (const id of completed) expect(starts.get(id), `${id} start count`).toBe(1);

    const most = maxConcurrency(lines);
    expect(most, "NX licences in use at once").toBeLessThanOrEqual(LIMIT);
    const pool = await readRecord(q.kv, licenceKey("nx"), LicencePoolSchema);
    expect(pool?.value.held, "licences still held after every job is done").toEqual({});
    expect(kills).toBeGreaterThan(5);

    const statuses = runs.map(({ run }) => run?.job.status);
    const hosts = new Set(lines.map((l) => l.host));
    console.info(
      `nats chaos: ${JOBS} jobs, ${kills} SIGKILLs, ${restarts} restarts, ${statuses.filter((s) => s === "completed").length} completed, ${statuses.filter((s) => s === "failed").length} failed, ${statuses.filter((s) => s === "cancelled").length} cancelled, 0 started twice, max ${most} running at once (limit ${LIMIT}), ran on ${[...hosts].sort().join(", ")}, all done in ${((doneAt - began) / 1000).toFixed(1)} s`,
    );
  }, 150_000);
});
