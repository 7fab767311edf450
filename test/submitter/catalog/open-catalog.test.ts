// A first build slower than openCatalog's wait: the catalog serves at once, listings say they are
// incomplete (list_jobs in words), job_status and id checks read the files meanwhile; and a build cut
// short by close() leaves an index the next open completes, with no job skipped (archived ones
// included: their names are stored only with their job's read).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { IndexedCatalog } from "../../../submitter/catalog/indexed-catalog.ts";
import { openCatalog } from "../../../submitter/catalog/open-catalog.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { jobStatus } from "../../../submitter/operations/job-status.ts";
import { listJobs } from "../../../submitter/operations/list-jobs.ts";
import type { KnownQueue } from "../fixtures/generated-queue.ts";
import { generateKnownQueue } from "../fixtures/generated-queue.ts";

const JOBS = 3000;

let base: string;
let generated: KnownQueue;
/** An index-less context whose catalog each test replaces with the one under test. */
let plain: ServerContext;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "atomizer-open-catalog-"));
  generated = await generateKnownQueue(join(base, "queue"), JOBS, "idle");
  plain = await createServerContext({
    queueRoot: generated.paths.root,
    withIndex: false,
    stateDir: join(base, "plain"),
  });
});

afterAll(async () => {
  await plain?.close();
  await rm(base, { recursive: true, force: true });
});

const archivedIds = () => generated.ids.filter((id) => generated.states.get(id) === "archived");

async function openBuilding(stateDir: string, lines: string[] = []): Promise<IndexedCatalog> {
  const catalog = await openCatalog({
    kind: "watched",
    queueRoot: generated.paths.root,
    stateDir,
    buildWaitMs: 0,
    log: (line) => lines.push(line),
  });
  if (!(catalog instanceof IndexedCatalog)) throw new Error("not an indexed catalog");
  return catalog;
}

/** Resolves once `check` holds, looking again after every turn of the event loop. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe("a first build that outlasts buildWaitMs", () => {
  let catalog: IndexedCatalog;
  const lines: string[] = [];

  beforeAll(async () => {
    const began = Date.now();
    catalog = await openBuilding(join(base, "state-slow"), lines);
    expect(Date.now() - began).toBeLessThan(1000);
  });

  afterAll(() => catalog?.close());

  test("serves at once and says, in a listing and in list_jobs, that it is incomplete", async () => {
    expect(catalog.index.building).toBeDefined();
    expect(lines.some((line) => line.includes("while serving"))).toBe(true);
    const page = await catalog.query({ limit: 20 });
    expect(page.building).toBeDefined();
    expect(page.total).toBeLessThan(JOBS);
    const listed = await listJobs({ ...plain, catalog }, {});
    expect(listed.total).toBeLessThan(JOBS);
    expect(listed.note).toMatch(
      /still being read from the queue folders \(\d+ of \d+ jobs so far\).*may miss jobs/,
    );
  });

  test("job_status and id checks read the files meanwhile", async () => {
    const oldest = archivedIds().at(-1) as string;
    expect(catalog.index.building).toBeDefined();
    expect((await jobStatus({ ...plain, catalog }, oldest)).state).toBe("archived");
    expect(await catalog.isTaken(oldest)).toBe(true);
  });

  test("once done, listings are complete and say nothing more", async () => {
    await catalog.start();
    expect(catalog.index.building).toBeUndefined();
    const page = await catalog.query({});
    expect(page.building).toBeUndefined();
    expect(page.total).toBe(JOBS);
    const listed = await listJobs({ ...plain, catalog }, { status: ["archived"] });
    expect(listed.total).toBe(archivedIds().length);
    expect(listed.note).toBeUndefined();
    await until("the build's closing log line", () => lines.some((line) => line.includes("up to date")));
  });
});

describe("a first build cut short by close()", () => {
  // outbox/ is read first (2000 jobs, those in inbox/ with them), archive/ last (1000 archived jobs).
  const outboxJobs = JOBS - Math.floor(JOBS / 3);

  test.each([
    ["while reading outbox/", 64, outboxJobs - 64],
    ["while reading archive/", outboxJobs + 64, JOBS - 64],
  ])("%s: the next open completes it, no job skipped", async (_what, from, before) => {
    const stateDir = await mkdtemp(join(base, "state-cut-"));
    const first = await openBuilding(stateDir);
    await until(`the build to read ${from} jobs`, () => (first.index.building?.read ?? JOBS) >= from);
    const cutAt = first.index.building;
    await first.close();
    // Cut where intended: the case proves something only if the build had not finished.
    expect(cutAt).toBeDefined();
    expect(cutAt?.read).toBeLessThan(before);

    const again = await openCatalog({
      kind: "watched",
      queueRoot: generated.paths.root,
      stateDir,
      buildWaitMs: 60_000,
    });
    if (!(again instanceof IndexedCatalog)) throw new Error("not an indexed catalog");
    try {
      expect(again.index.building).toBeUndefined();
      // Only what the first build had not stored is read again.
      expect(again.index.lastBuild.read).toBeLessThanOrEqual(JOBS - (cutAt?.read ?? 0) + 32);
      const rows = (await again.list()).rows;
      expect(new Map(rows.map((row) => [row.job_id, row.state]))).toEqual(generated.states);
      for (const id of archivedIds()) expect(again.index.archiveDirs(id)).toHaveLength(1);
    } finally {
      await again.close();
    }
  });
});
