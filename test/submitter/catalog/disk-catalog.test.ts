// The one-shot catalog the CLI uses: every call reads the folders afresh; a subscription watches only
// the job it names, and only while it stands.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { DiskCatalog } from "../../../submitter/catalog/disk-catalog.ts";
import type { CatalogEvent, JobCatalog } from "../../../submitter/catalog/job-catalog.ts";
import { openCatalog } from "../../../submitter/catalog/open-catalog.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { archiveJob } from "../../../submitter/operations/archive-job.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { acceptJob, finishJob, startJob } from "../fixtures/runner-fixture.ts";
import { makeQueueWithStudy } from "../fixtures/study-fixture.ts";

let base: string;
let queue: QueuePaths;
let study: string;
let ctx: ServerContext;
let catalog: JobCatalog;

beforeAll(async () => {
  ({ base, queue, study } = await makeQueueWithStudy());
  ctx = await createServerContext({ queueRoot: queue.root, allow: [base], withIndex: false });
  catalog = await openCatalog({ kind: "disk", queueRoot: queue.root });
});

afterAll(async () => {
  await catalog?.close();
  await ctx?.close();
  await rm(base, { recursive: true, force: true });
});

async function submit(name: string): Promise<string> {
  return (await submitJob(ctx, { study_dir: study, name, project: "disk" }, "atlas")).job_id;
}

test("list, ids and get read what the folders hold now, in every state", async () => {
  expect(catalog).toBeInstanceOf(DiskCatalog);
  expect(ctx.catalog).toBeInstanceOf(DiskCatalog);
  const waiting = await submit("waiting");
  const failed = await submit("failed");
  await acceptJob(queue, failed);
  await finishJob(queue, failed, "failed");
  const archived = await submit("archived");
  await acceptJob(queue, archived);
  await finishJob(queue, archived, "completed", { log: "ok\n" });
  const copy = await archiveJob(ctx, { job_id: archived });
  // A file named like a job is no job; a folder with no job.json yet is one without a state.
  await writeFile(join(queue.outbox, "job-20000101-000000-file"), "not a folder");
  const listing = await catalog.list();
  const states = Object.fromEntries(listing.rows.map((row) => [row.job_id, row.state]));
  expect(states).toEqual({ [waiting]: "submitted", [failed]: "failed", [archived]: "archived" });
  // Three jobs, each stored at least once as it moved through its states.
  expect(listing.counter).toBeGreaterThanOrEqual(3);
  expect(listing.removedSince(0)).toEqual({ ids: [], complete: true });
  // One persistent index per queue: a cursor from one call continues in the next (and in a server).
  const again = await catalog.list();
  expect(again.instance).toBe(listing.instance);
  expect(again.counter).toBe(listing.counter);
  expect((await catalog.ids()).sort()).toEqual([waiting, failed, archived].sort());
  const record = await catalog.get(archived);
  expect(record).toMatchObject({
    state: "archived",
    acknowledged: "archive",
    archive: { dir: copy.archive_dir, within: queue.archive },
    job: { job_id: archived, status: "completed" },
  });
  expect(await catalog.get(failed)).toMatchObject({ state: "failed", results: { state: "verified" } });
  expect(await catalog.isTaken(archived)).toBe(true);
  expect(await catalog.isTaken("job-20000101-000000-free")).toBe(false);
});

test("a subscription on one job reports its changes as they happen", async () => {
  const jobId = await submit("followed");
  await mkdir(join(queue.inbox, jobId));
  const seen: CatalogEvent[] = [];
  const running = new Promise<void>((resolve) => {
    void catalog
      .subscribe(jobId, (event) => {
        seen.push(event);
        if (event.row.state === "running") resolve();
      })
      .then(async (unsubscribe) => {
        await acceptJob(queue, jobId);
        await startJob(queue, jobId);
        await running;
        unsubscribe();
      });
  });
  await running;
  expect(seen.every((event) => event.job_id === jobId)).toBe(true);
  expect(seen.map((event) => event.row.state)).toContain("running");
});
