// list_jobs through a real stdio server over 300 generated jobs, against a brute-force listing of the
// job.json files: filters, totals, paging and newest-first order; changed_since reporting a removal;
// and a cursor of an index since rebuilt answered with the full listing and a note saying why.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Job } from "../../../protocol/index.ts";
import { parseArchiveDirName, readJob } from "../../../protocol/index.ts";
import { indexFileFor } from "../../../submitter/catalog/index-location.ts";
import type { JobState } from "../../../submitter/jobs/job-state.ts";
import type { ListJobsArgs } from "../../../submitter/operations/list-jobs.ts";
import type { KnownQueue } from "../fixtures/generated-queue.ts";
import { generateKnownQueue } from "../fixtures/generated-queue.ts";
import type { IndexServer } from "../fixtures/index-servers.ts";
import { eventually, startIndexServer } from "../fixtures/index-servers.ts";
import { removeEverywhere } from "../fixtures/queue-changes.ts";

const JOBS = 300;

interface Truth {
  id: string;
  state: string;
  project: string;
  created_by: string;
  created_at: string;
}

let base: string;
let generated: KnownQueue;
let stateDir: string;
let server: IndexServer;
/** Every job as its files say, from the folders themselves (not from any index). */
let truth: Truth[] = [];

async function readTruth(): Promise<Truth[]> {
  const { outbox, archive } = generated.paths;
  const found = new Map<string, Job>();
  for (const name of await readdir(archive)) {
    const parsed = parseArchiveDirName(name);
    if (parsed) found.set(parsed.job_id, await readJob(join(archive, name)));
  }
  for (const name of (await readdir(outbox)).filter((n) => n.startsWith("job-")))
    found.set(name, await readJob(join(outbox, name)));
  return [...found].map(([id, job]) => ({
    id,
    state: generated.states.get(id) as string,
    project: job.project,
    created_by: job.created_by,
    created_at: job.created_at,
  }));
}

function bruteForce(args: ListJobsArgs): { ids: string[]; total: number } {
  const matching = truth
    .filter(
      (job) =>
        (!args.status?.length || (args.status as string[]).includes(job.state)) &&
        (args.project === undefined || job.project === args.project) &&
        (args.created_by === undefined || job.created_by === args.created_by),
    )
    .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
  const offset = args.offset ?? 0;
  return {
    ids: matching.slice(offset, offset + (args.limit ?? 20)).map((job) => job.id),
    total: matching.length,
  };
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "atomizer-list-jobs-index-"));
  generated = await generateKnownQueue(join(base, "queue"), JOBS, "mixed");
  truth = await readTruth();
  stateDir = join(base, "state");
  server = await startIndexServer(generated.paths, base, stateDir);
});

afterAll(async () => {
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

describe("list_jobs over 300 jobs", () => {
  test("the brute-force listing covers every state, project and agent", () => {
    expect(truth).toHaveLength(JOBS);
    const states = new Set(truth.map((job) => job.state));
    for (const state of ["submitted", "queued", "running", "completed", "failed", "archived"])
      expect(states).toContain(state);
  });

  test.each<[string, ListJobsArgs]>([
    ["no filter, first page", {}],
    ["one state", { status: ["queued"] }],
    ["several states", { status: ["completed", "failed"], limit: 50 }],
    [
      "several states, a page deep in",
      { status: ["archived", "submitted", "running"], limit: 30, offset: 45 },
    ],
    ["a project", { project: "lidar-bracket", limit: 200 }],
    [
      "an agent and states, paged",
      { created_by: "iris", status: ["archived", "completed"], limit: 7, offset: 14 },
    ],
    ["a project and a state", { project: "cubesat-panel", status: ["running"] }],
    ["nobody's jobs", { created_by: "nobody" }],
    ["past the end", { offset: JOBS, limit: 10 }],
  ])("%s: rows, order, total and next_offset as the files say", async (_what, args) => {
    const expected = bruteForce(args);
    const page = await server.listJobs(args);
    expect(page.jobs.map((job) => job.job_id)).toEqual(expected.ids);
    expect(page.total).toBe(expected.total);
    const end = (args.offset ?? 0) + (args.limit ?? 20);
    expect(page.next_offset).toBe(end < expected.total ? end : undefined);
    for (const job of page.jobs) expect(job.state).toBe(generated.states.get(job.job_id) as JobState);
    expect(page.full_listing).toBe(false);
    expect(page.note).toBeUndefined();
  });

  test("following next_offset visits every job once, newest first", async () => {
    const seen: string[] = [];
    let offset: number | undefined = 0;
    while (offset !== undefined) {
      const page = await server.listJobs({ limit: 70, offset });
      seen.push(...page.jobs.map((job) => job.job_id));
      offset = page.next_offset;
    }
    expect(seen).toEqual(bruteForce({ limit: JOBS }).ids);
  });
});

describe("changed_since", () => {
  test("a job removed from the queue is listed as removed, and is gone from the listing", async () => {
    const start = await server.listJobs();
    const gone = truth.find((job) => job.state === "completed")?.id as string;
    await removeEverywhere(generated.paths, gone);
    const changed = await eventually(
      "the removal to be seen",
      () => server.listJobs({ changed_since: start.cursor }),
      (answer) => answer.removed.includes(gone),
    );
    expect(changed.full_listing).toBe(false);
    expect(changed.jobs.map((job) => job.job_id)).not.toContain(gone);
    expect((await server.listJobs({ limit: 200 })).total).toBe(JOBS - 1);
    // Taken after the removal, the cursor reports it no more.
    expect((await server.listJobs({ changed_since: changed.cursor })).removed).toEqual([]);
    truth = truth.filter((job) => job.id !== gone);
  });

  test("a cursor from an index since rebuilt gets the full listing and a note", async () => {
    const old = await server.listJobs();
    await server.stop();
    const file = await indexFileFor(stateDir, generated.paths.root);
    for (const path of [file, `${file}-wal`, `${file}-shm`]) await rm(path, { force: true });
    server = await startIndexServer(generated.paths, base, stateDir);
    const page = await server.listJobs({ changed_since: old.cursor, status: ["failed", "queued"] });
    expect(page.full_listing).toBe(true);
    expect(page.note).toMatch(/another job index \(it was rebuilt/);
    expect(page.removed).toEqual([]);
    const expected = bruteForce({ status: ["failed", "queued"] });
    expect(page.total).toBe(expected.total);
    expect(page.jobs.map((job) => job.job_id)).toEqual(expected.ids);
    expect(page.cursor).not.toBe(old.cursor);
  });
});
