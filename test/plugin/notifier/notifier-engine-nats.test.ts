// The notifier on a queue carried by NATS JetStream, against a real nats-server: it follows its own
// mirror of the queue (the MCP servers' folder catalog, unchanged), so a job another machine submits
// and a runner finishes reaches it through KV, gets its message and hand-off, and a fetch made on
// yet another machine acknowledges it. A server that is not there yet is waited for, not fatal.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { NotifierEngine } from "../../../plugin/notifier/notifier-engine.ts";
import { LOCK_FILE } from "../../../plugin/notifier/notifier-lock.ts";
import { buildManifest, JOB_FILE, parseJob, pathExists, transition } from "../../../protocol/index.ts";
import { natsMirrorFor } from "../../../submitter/catalog/nats-mirror-location.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { fetchResults } from "../../../submitter/operations/fetch-results.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { natsServerPresent, startNatsServer } from "../../helpers/nats-server.ts";
import type { NatsHarness } from "../../submitter/fixtures/nats-fixture.ts";
import { putRunRecord, startNatsHarness } from "../../submitter/fixtures/nats-fixture.ts";
import { makeStudy } from "../../submitter/fixtures/study-fixture.ts";
import { makeEngine, readLedger, TARGET, waitFor } from "./engine-harness.ts";

let nats: NatsHarness;
let base: string;
const engines: NotifierEngine[] = [];

beforeAll(async () => {
  if (!natsServerPresent()) return;
  nats = await startNatsHarness();
  base = await mkdtemp(join(tmpdir(), "atomizer-notifier-nats-"));
});

afterAll(async () => {
  for (const engine of engines.splice(0)) await engine.stop();
  await nats?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

/** The submitting machine: its own state folder, so its own mirror, as a Study-Builder host has. */
function submitter(): Promise<ServerContext> {
  return createServerContext({
    queueRoot: "unused",
    nats: { url: nats.server.url },
    stateDir: join(base, "submitter-host"),
    allow: [base],
    withIndex: false,
  });
}

/** What the runner's bridge publishes for a job it finished: job.json completed, with its results. */
async function finishInNats(ctx: ServerContext, jobId: string): Promise<void> {
  const submitted = parseJob(JSON.parse(await readFile(join(ctx.queue.outbox, jobId, JOB_FILE), "utf8")));
  const results = { "stdout.log": "trial 1\ndone\n", "3_results/best.json": '{"wfe": 12.5}\n' };
  const scratch = await mkdtemp(join(base, "results-"));
  await mkdir(join(scratch, "3_results"));
  for (const [path, text] of Object.entries(results)) await writeFile(join(scratch, path), text);
  let job = transition(submitted, "queued", {
    runner: { host: "nx-ws-02", version: "0.1.0", heartbeat_s: 30 },
  });
  job = transition(job, "running");
  job = transition(job, "completed", {
    exit_code: 0,
    results: { files: await buildManifest(scratch), published_at: new Date().toISOString() },
  });
  await putRunRecord(nats.q, jobId, `${JSON.stringify(job, null, 2)}\n`, results, "nx-ws-02");
}

describe.runIf(natsServerPresent())("notifier engine on a NATS queue", () => {
  test("a job finished through NATS gets its message and hand-off; a fetch elsewhere acknowledges it", async () => {
    const gatewayState = join(base, "gateway-host");
    const mirror = natsMirrorFor(gatewayState, nats.server.url);
    const h = makeEngine(undefined, {
      nats: { settings: { url: nats.server.url }, env: {}, stateDir: gatewayState },
    });
    engines.push(h.engine);
    await h.engine.start();
    expect(h.engine.active).toBe(true);
    // Keyed by the queue it acts for: this host's mirror of the NATS queue.
    expect(await pathExists(join(mirror.queueRoot, ".state", "notifier", LOCK_FILE))).toBe(true);
    expect(h.calls.logs.map((line) => line.message).join("\n")).toContain(
      `acting for NATS ${nats.server.url}`,
    );

    const ctx = await submitter();
    try {
      const study = await makeStudy(base);
      const { job_id: jobId } = await submitJob(
        ctx,
        { study_dir: study, name: "nats notifier", project: "starspec-m1-wfe" },
        "study-builder",
      );
      await finishInNats(ctx, jobId);

      await waitFor("the channel message", () => h.calls.sends.length === 1, 20_000);
      await waitFor("the hand-off", () => h.calls.events.length === 1, 20_000);
      // Submitted with project starspec-m1-wfe: channel #starspec-m1-wfe, which the harness maps.
      expect(h.calls.sends[0]?.target).toEqual(TARGET);
      expect(h.calls.sends[0]?.text).toContain(jobId);
      expect(h.calls.sends[0]?.text).toContain("completed");
      expect(h.calls.events[0]?.text).toContain(jobId);
      expect(h.calls.wakes).toHaveLength(1);
      // The job reached the notifier through KV alone: the submitter's mirror is another folder.
      expect(ctx.queue.root).not.toBe(mirror.queueRoot);
      expect(await pathExists(join(mirror.queueRoot, "inbox", jobId, JOB_FILE))).toBe(true);
      const entry = (await readLedger(mirror.queueRoot)).jobs[jobId];
      expect(entry?.notified.state).toBe("sent");
      expect(entry?.handoff.state).toBe("pending");

      // The Optimizer's fetch_results on the submitting host records the receipt in KV only.
      const fetched = await fetchResults(ctx, { job_id: jobId, max_images: 0 }, "optimizer");
      expect(fetched.summary.complete).toBe(true);
      await waitFor(
        "the hand-off acknowledged by the fetch receipt",
        async () => (await readLedger(mirror.queueRoot)).jobs[jobId]?.handoff.state === "acknowledged",
        20_000,
      );
      expect((await readLedger(mirror.queueRoot)).jobs[jobId]?.handoff).toMatchObject({ by: "receipt" });
    } finally {
      await ctx.close();
    }
  });

  test("a NATS server not up yet: the engine says so, holds no lock, and starts acting once it is", async () => {
    const later = await startNatsServer();
    await later.stop();
    const gatewayState = join(base, "gateway-waiting");
    const mirror = natsMirrorFor(gatewayState, later.url);
    const h = makeEngine(undefined, {
      nats: { settings: { url: later.url }, env: {}, stateDir: gatewayState },
      lockRefreshMs: 200,
    });
    try {
      await h.engine.start();
      expect(h.engine.active).toBe(false);
      const errors = h.calls.logs.filter((line) => line.level === "error").map((line) => line.message);
      expect(errors.join("\n")).toContain(`cannot follow NATS ${later.url}`);
      expect(errors.join("\n")).toContain("cannot reach the NATS server");
      expect(await pathExists(join(mirror.queueRoot, ".state", "notifier", LOCK_FILE))).toBe(false);

      await later.restart();
      await waitFor("the engine to act once the server is up", () => h.engine.active, 20_000);
      // Said once while down, not on every retry.
      expect(h.calls.logs.filter((line) => line.message.includes("cannot follow"))).toHaveLength(1);
    } finally {
      await h.engine.stop();
      await later.stop();
    }
  });
});
