// The index's watch lifecycle: outbox/, inbox/ and archive/ at depth 0, plus inbox/<id>/ of each job
// whose inbox job.json is not final yet. Writes come from a second, index-less context (as the one-shot
// CLI would) and from the runner fixture, so every change reaches the index through its watchers.
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import type { CatalogRow } from "../../../submitter/catalog/job-catalog.ts";
import type { JobIndex } from "../../../submitter/catalog/job-index.ts";
import { WatchedCatalog } from "../../../submitter/catalog/watched-catalog.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { buildMcpServer } from "../../../submitter/mcp/build-server.ts";
import { archiveJob } from "../../../submitter/operations/archive-job.ts";
import { cancelJob } from "../../../submitter/operations/cancel-job.ts";
import { jobStatus } from "../../../submitter/operations/job-status.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { waitForJob } from "../../../submitter/operations/wait-for-job.ts";
import {
  acceptJob,
  finishJob,
  heartbeat,
  makeQueue,
  reportProgress,
  startJob,
} from "../fixtures/runner-fixture.ts";
import { makeStudy } from "../fixtures/study-fixture.ts";

const WAIT_MS = 20_000;

let base: string;
let queue: QueuePaths;
let study: string;
/** The long-running server's context, with the index under test. */
let ctx: ServerContext;
/** A second submitting process without an index: its writes reach `ctx` only through the watchers. */
let writer: ServerContext;
let index: JobIndex;

/** Resolves once `check` holds, re-checking on every index event (no polling, no sleeps). */
function until<T>(what: string, check: () => T | undefined | false): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let unsubscribe = () => {};
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`));
    }, WAIT_MS);
    const attempt = () => {
      const value = check();
      if (value === undefined || value === false) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(value);
    };
    unsubscribe = index.subscribe("*", attempt);
    attempt();
  });
}

function rowIn(jobId: string, state: CatalogRow["state"]): Promise<CatalogRow> {
  return until(`${jobId} to be ${state}`, () => {
    const row = index.get(jobId);
    return row?.state === state ? row : undefined;
  });
}

async function submit(name: string): Promise<string> {
  const submitted = await submitJob(writer, { study_dir: study, name, project: "index-watch" }, "atlas");
  await rowIn(submitted.job_id, "submitted");
  return submitted.job_id;
}

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  study = await makeStudy(base);
  ctx = await createServerContext({ queueRoot: queue.root, allow: [base], withIndex: true });
  writer = await createServerContext({ queueRoot: queue.root, allow: [base], withIndex: false });
  if (!(ctx.catalog instanceof WatchedCatalog)) throw new Error("the server context has no watched catalog");
  index = ctx.catalog.index;
});

afterAll(async () => {
  await writer?.close();
  await ctx?.close();
  await rm(base, { recursive: true, force: true });
});

describe("job index watch lifecycle", () => {
  test("an outbox folder renamed in shows up as submitted, with nothing in inbox/ watched", async () => {
    const jobId = await submit("renamed into outbox");
    expect(index.get(jobId)).toMatchObject({ job_id: jobId, state: "submitted", project: "index-watch" });
    expect(index.watchedInboxIds()).not.toContain(jobId);
  });

  test("a folder that appears in inbox/ before its job.json is watched until job.json arrives", async () => {
    const jobId = await submit("inbox folder first");
    const cursor = index.counter;
    // Syncthing creates inbox/<id>/ first and delivers job.json later.
    await mkdir(join(queue.inbox, jobId));
    await until(`${jobId}'s empty inbox folder to be watched`, () => index.watchedInboxIds().includes(jobId));
    await acceptJob(queue, jobId);
    const row = await rowIn(jobId, "queued");
    expect(row.change).toBeGreaterThan(cursor);
    expect(index.watchedInboxIds()).toContain(jobId);
  });

  test("a running job's job.json rewrites update its row, notify job:// subscribers and wake wait_for_job", async () => {
    const jobId = await submit("running rewrites");
    await acceptJob(queue, jobId);
    await startJob(queue, jobId);
    const running = await rowIn(jobId, "running");
    expect(index.watchedInboxIds()).toContain(jobId);

    // wait_for_job returns on a progress rewrite, well before its timeout.
    const waiting = waitForJob(ctx, {
      job_id: jobId,
      seq: (await jobStatus(ctx, jobId)).seq,
      timeout_s: 40,
      until: "progress",
    });
    await reportProgress(queue, jobId, { trials_complete: 3, trials_planned: 10, best_value: 0.5 });
    const woke = await waiting;
    expect(woke).toMatchObject({ changed: true, timed_out: false });
    expect(woke.job).toMatchObject({ state: "running", progress: { trials_complete: 3 } });
    const progressed = await until("the progress in the row", () => {
      const row = index.get(jobId);
      return row?.trials_complete === 3 ? row : undefined;
    });
    expect(progressed.change).toBeGreaterThan(running.change);

    // A job:// subscriber hears about the next progress rewrite through a real MCP session.
    const built = buildMcpServer(ctx, { agent: "atlas", role: "admin" });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: "index-test", version: "1.0.0" });
    try {
      await built.server.connect(serverSide);
      await client.connect(clientSide);
      const updated = new Promise<string>((resolve) => {
        client.setNotificationHandler(ResourceUpdatedNotificationSchema, (note) => resolve(note.params.uri));
      });
      await client.subscribeResource({ uri: `job://${jobId}` });
      // A heartbeat alone changes no row; progress does.
      await heartbeat(queue, jobId);
      await reportProgress(queue, jobId, { trials_complete: 4, trials_planned: 10, best_value: 0.4 });
      expect(await updated).toBe(`job://${jobId}`);
    } finally {
      built.dispose();
      await client.close();
      await built.server.close();
    }
  });

  test("a job whose inbox job.json turned final is unwatched, and its folders vanishing is still seen", async () => {
    const jobId = await submit("finished then cleaned");
    await acceptJob(queue, jobId);
    await rowIn(jobId, "queued");
    expect(index.watchedInboxIds()).toContain(jobId);
    await finishJob(queue, jobId, "completed", { log: "done\n" });
    const completed = await rowIn(jobId, "completed");
    expect(completed.finished_at).toBeDefined();
    expect(index.watchedInboxIds()).not.toContain(jobId);

    // Outbox entry removed, then the runner's cleanup: the depth-0 watchers still report both.
    const since = index.counter;
    await rm(join(queue.outbox, jobId), { recursive: true });
    await rm(join(queue.inbox, jobId), { recursive: true });
    await until(`${jobId} to be removed`, () => index.store.removedSince(since).ids.includes(jobId));
    expect(index.get(jobId)).toBeUndefined();
  });

  test("an archive folder renamed in makes the job archived", async () => {
    const jobId = await submit("archived elsewhere");
    await acceptJob(queue, jobId);
    await finishJob(queue, jobId, "failed", { log: "bad mesh\n" });
    await rowIn(jobId, "failed");
    // The index-less writer publishes archive/<id>-<stamp>/ by rename and removes outbox/<id>/.
    const archived = await archiveJob(writer, { job_id: jobId });
    const row = await rowIn(jobId, "archived");
    expect(row.archived_at).toBeDefined();
    expect(index.archiveDirs(jobId)).toEqual([archived.archive_dir.split(/[\\/]/).at(-1)]);
    expect(index.watchedInboxIds()).not.toContain(jobId);
  });

  test("a cancel request written into a not-yet-existing outbox/.cancel, then the runner's cancelled", async () => {
    const jobId = await submit("cancel before start");
    await acceptJob(queue, jobId);
    await rowIn(jobId, "queued");
    await rm(queue.cancelDir, { recursive: true, force: true });
    const requested = await cancelJob(writer, { job_id: jobId, reason: "wrong mesh" }, "atlas");
    expect(existsSync(join(queue.cancelDir, `${jobId}.json`))).toBe(true);
    // The request is no part of a row (job_status reads it directly), and it does not disturb the index.
    expect(await jobStatus(ctx, jobId)).toMatchObject({
      state: "queued",
      cancel_requested_at: requested.requested_at,
    });
    expect(index.get(jobId)?.state).toBe("queued");
    await finishJob(queue, jobId, "cancelled");
    const row = await rowIn(jobId, "cancelled");
    expect(row.error_kind).toBe("cancelled");
    expect(index.watchedInboxIds()).not.toContain(jobId);
  });

  test("a job folder renamed into inbox/ whole with a final job.json is read once and never watched", async () => {
    const jobId = await submit("delivered whole");
    await acceptJob(queue, jobId);
    await finishJob(queue, jobId, "completed");
    await rowIn(jobId, "completed");
    const aside = join(base, `${jobId}-aside`);
    await rename(join(queue.inbox, jobId), aside);
    await rowIn(jobId, "submitted");
    await rename(aside, join(queue.inbox, jobId));
    await rowIn(jobId, "completed");
    expect(index.watchedInboxIds()).not.toContain(jobId);
  });
});
