// The watched catalog as the notifier uses it: change events for any job and for one, results followed
// until they verify although job.json is already final, fetch receipts and archive folders appearing.
// Writes come from a second, disk-backed context (as the one-shot CLI would) and from the runner
// fixture, so every event reaches the catalog through its watchers.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import type { CatalogChange, CatalogEvent, JobCatalog } from "../../../submitter/catalog/job-catalog.ts";
import { openCatalog } from "../../../submitter/catalog/open-catalog.ts";
import { WatchedCatalog } from "../../../submitter/catalog/watched-catalog.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { archiveJob } from "../../../submitter/operations/archive-job.ts";
import { fetchResults } from "../../../submitter/operations/fetch-results.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { acceptJob, deliverWithheld, finishJob, makeQueue, startJob } from "../fixtures/runner-fixture.ts";
import { makeStudy } from "../fixtures/study-fixture.ts";

const WAIT_MS = 20_000;
const PLOT = "3_results/plots/convergence.png";

let base: string;
let queue: QueuePaths;
let study: string;
let catalog: WatchedCatalog;
let writer: ServerContext;
let events: CatalogEvent[] = [];
let stopAll: () => void = () => {};

/** Resolves once `check` returns something, re-checking on every event of `jobId` (no polling). */
function until<T>(jobId: string, what: string, check: (event?: CatalogEvent) => T | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let stop = () => {};
    const finish = (value: T | undefined, error?: Error) => {
      if (done || (value === undefined && !error)) return;
      done = true;
      clearTimeout(timer);
      stop();
      if (error) reject(error);
      else resolve(value as T);
    };
    const timer = setTimeout(
      () => finish(undefined, new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`)),
      WAIT_MS,
    );
    void catalog
      .subscribe(jobId, (event) => finish(check(event)))
      .then((unsubscribe) => {
        stop = unsubscribe;
        if (done) unsubscribe();
        else finish(check());
      });
  });
}

/** The first event of `jobId` with `change` from now on (or already seen by the "*" subscriber). */
function eventOf(jobId: string, change: CatalogChange): Promise<CatalogEvent> {
  const seen = (event?: CatalogEvent) =>
    event?.change === change ? event : events.find((e) => e.job_id === jobId && e.change === change);
  return until(jobId, `${change} of ${jobId}`, seen);
}

/** Resolves once the catalog's row of `jobId` has `state`. */
function stateOf(jobId: string, state: string): Promise<true> {
  return until(
    jobId,
    `${jobId} to be ${state}`,
    () => catalog.index.get(jobId)?.state === state || undefined,
  );
}

async function submit(name: string): Promise<string> {
  const submitted = await submitJob(writer, { study_dir: study, name, project: "catalog" }, "atlas");
  await eventOf(submitted.job_id, "row");
  return submitted.job_id;
}

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  study = await makeStudy(base);
  const opened: JobCatalog = await openCatalog({ kind: "watched", queueRoot: queue.root });
  if (!(opened instanceof WatchedCatalog)) throw new Error("openCatalog did not make a watched catalog");
  catalog = opened;
  writer = await createServerContext({ queueRoot: queue.root, allow: [base], withIndex: false });
  stopAll = await catalog.subscribe("*", (event) => events.push(event), { receipts: true });
});

afterAll(async () => {
  stopAll();
  await writer?.close();
  await catalog?.close();
  await rm(base, { recursive: true, force: true });
});

describe("watched catalog", () => {
  test("events name their job and carry its row; an unknown job reads as unknown", async () => {
    events = [];
    const jobId = await submit("rows");
    const row = await eventOf(jobId, "row");
    expect(row.row).toMatchObject({ job_id: jobId, state: "submitted", project: "catalog" });
    const unknown = await catalog.get("job-20000101-000000-nothing");
    expect(unknown).toMatchObject({
      state: "unknown",
      row: { state: "unknown", seq: 0 },
      acknowledged: undefined,
    });
  });

  test("a completed job whose results are still arriving stays followed until they verify", async () => {
    events = [];
    const jobId = await submit("results syncing");
    await acceptJob(queue, jobId);
    await startJob(queue, jobId);
    await finishJob(queue, jobId, "completed", { files: { [PLOT]: "png bytes" }, log: "done\n" });
    // Nothing withheld: everything arrived with job.json, so the follow ends with it.
    await stateOf(jobId, "completed");
    expect(catalog.index.watchedInboxIds()).not.toContain(jobId);
    expect((await catalog.get(jobId)).results.state).toBe("verified");
    expect(events.some((event) => event.job_id === jobId && event.change === "results")).toBe(false);

    events = [];
    const late = await submit("results late");
    await acceptJob(queue, late);
    await finishJob(queue, late, "completed", { files: { [PLOT]: "late png" }, withhold: [PLOT] });
    await stateOf(late, "completed");
    expect(catalog.index.watchedInboxIds()).toContain(late);
    const syncing = await catalog.get(late);
    expect(syncing.results).toMatchObject({ state: "syncing", sync: { files_total: 2, files_synced: 1 } });
    // The plot's folder does not exist yet: it is seen appearing and followed, then the file in it.
    await deliverWithheld(queue, late, { [PLOT]: "late png" });
    const verified = await eventOf(late, "results");
    expect(verified.results).toMatchObject({ state: "verified", sync: { complete: true, files_total: 2 } });
    expect(verified.row.state).toBe("completed");
    expect(catalog.index.watchedInboxIds()).not.toContain(late);
  });

  test("a fetch receipt and an archive folder appearing are events; get says how results were taken", async () => {
    events = [];
    const jobId = await submit("acknowledged");
    await acceptJob(queue, jobId);
    await finishJob(queue, jobId, "completed", { log: "ok\n" });
    await stateOf(jobId, "completed");
    expect((await catalog.get(jobId)).acknowledged).toBeUndefined();
    await fetchResults(writer, { job_id: jobId, max_images: 0 }, "atlas");
    const fetched = await eventOf(jobId, "fetched");
    expect(fetched.row.job_id).toBe(jobId);
    expect((await catalog.get(jobId)).acknowledged).toBe("receipt");

    const other = await submit("archived");
    await acceptJob(queue, other);
    await finishJob(queue, other, "failed");
    await stateOf(other, "failed");
    const archived = await archiveJob(writer, { job_id: other });
    const event = await eventOf(other, "archived");
    // The copy is published before the outbox entry goes: its row says "archived" once that is gone too.
    expect(event.row.job_id).toBe(other);
    await stateOf(other, "archived");
    const record = await catalog.get(other);
    expect(record).toMatchObject({ state: "archived", acknowledged: "archive" });
    expect(record.archive?.dir).toBe(archived.archive_dir);
    expect(record.folders.archive?.dir).toBe(archived.archive_dir);
  });

  test("a job whose every file vanished is a removed event with an unknown row", async () => {
    events = [];
    const jobId = await submit("vanishing");
    await rm(join(queue.outbox, jobId), { recursive: true });
    const removed = await eventOf(jobId, "removed");
    expect(removed.row).toMatchObject({ job_id: jobId, state: "unknown" });
    expect(await catalog.ids()).not.toContain(jobId);
  });
});
