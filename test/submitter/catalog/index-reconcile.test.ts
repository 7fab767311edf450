// Start-up reads only what changed. Directly: a root whose stamp has settled is not even listed, and a
// listing compares names and reads only the differences. Through a catalog over a generated queue of
// 300 jobs: each change made while it was closed costs a read of the changed job (plus the live ones),
// and the listing shows the change, also one that no folder listing can see (a job.json rewritten).
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { dirStamp, isTerminal, readJob } from "../../../protocol/index.ts";
import type { ReconcileTarget } from "../../../submitter/catalog/index-reconcile.ts";
import { QUEUE_ROOTS, reconcileRoot } from "../../../submitter/catalog/index-reconcile.ts";
import type { IndexStore } from "../../../submitter/catalog/index-store.ts";
import { IndexedCatalog } from "../../../submitter/catalog/indexed-catalog.ts";
import type { JobState } from "../../../submitter/catalog/job-catalog.ts";
import { JobIndex } from "../../../submitter/catalog/job-index.ts";
import { memoryIndexStore, openCatalog } from "../../../submitter/catalog/open-catalog.ts";
import { WatchedCatalog } from "../../../submitter/catalog/watched-catalog.ts";
import { VerificationCache } from "../../../submitter/jobs/results-check.ts";
import type { KnownQueue } from "../fixtures/generated-queue.ts";
import { generateKnownQueue } from "../fixtures/generated-queue.ts";
import {
  archiveBehind,
  removeEverywhere,
  rewriteFinal,
  submitCopy,
  withSettledClock,
} from "../fixtures/queue-changes.ts";
import { finishJob } from "../fixtures/runner-fixture.ts";

const JOBS = 300;

let base: string;
let generated: KnownQueue;
let queue: QueuePaths;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "atomizer-reconcile-"));
  generated = await generateKnownQueue(join(base, "queue"), JOBS, "mixed");
  queue = generated.paths;
});

afterAll(() => rm(base, { recursive: true, force: true }));

/** Ids (newest first) in `state` per the generator. */
const idsIn = (state: string) => generated.ids.filter((id) => generated.states.get(id) === state);

describe("reconcileRoot", () => {
  let store: IndexStore;
  let index: JobIndex;
  const reads: string[] = [];

  function target(): ReconcileTarget {
    return {
      queue,
      store,
      readMany: (ids, names) => {
        reads.push(...ids);
        return index.readMany(ids, names);
      },
      progress: { planned: 0, read: 0 },
      closed: () => false,
    };
  }

  beforeAll(async () => {
    store = await memoryIndexStore();
    index = new JobIndex(queue, store, new VerificationCache(), { watch: false });
  });

  afterAll(async () => {
    await index.close();
    store.close();
  });

  test("a listing taken within the racy window is used but its stamp is not remembered", async () => {
    for (const root of QUEUE_ROOTS) {
      const outcome = await reconcileRoot(target(), root);
      expect(outcome.listed).toBe(true);
      expect(store.stamp(root)).toBeUndefined();
    }
    expect(store.ids().length).toBe(JOBS);
    // Each job read once: a job read for outbox/ is known in inbox/ too.
    expect(reads.length).toBe(JOBS);
    expect(new Set(reads).size).toBe(JOBS);
  });

  test("a listing begun long enough after the folder last changed remembers the stamp", async () => {
    reads.length = 0;
    await withSettledClock(async () => {
      for (const root of QUEUE_ROOTS) {
        expect(await reconcileRoot(target(), root)).toEqual({ listed: true, added: [], read: 0 });
        expect(store.stamp(root)).toEqual(await dirStamp(queue[root]));
      }
    });
    expect(reads).toEqual([]);
  });

  test("an unchanged root is not listed at all; `force` lists it anyway", async () => {
    for (const root of QUEUE_ROOTS) expect((await reconcileRoot(target(), root)).listed).toBe(false);
    expect((await reconcileRoot(target(), "archive", true)).listed).toBe(true);
    expect(reads).toEqual([]);
  });

  test("a root that gained an entry is listed and only the new job is read", async () => {
    const newId = "job-20270101-000000-reconcile-new";
    await submitCopy(queue, idsIn("submitted")[0] as string, newId, "2027-01-01T00:00:00Z");
    expect((await reconcileRoot(target(), "inbox")).listed).toBe(false);
    expect(await reconcileRoot(target(), "outbox")).toEqual({ listed: true, added: [newId], read: 1 });
    expect(reads).toEqual([newId]);
    expect(store.row(newId)?.state).toBe("submitted");
    await removeEverywhere(queue, newId);
    reads.length = 0;
    expect(await reconcileRoot(target(), "outbox")).toEqual({ listed: true, added: [], read: 1 });
    expect(reads).toEqual([newId]);
    expect(store.row(newId)).toBeUndefined();
  });
});

describe("a catalog reopened after a change made while it was closed", () => {
  const stateDir = () => join(base, "state");
  /** Jobs whose inbox job.json is not final, counted from the files. */
  async function liveOnDisk(): Promise<number> {
    const names = (await readdir(queue.inbox)).filter((name) => name.startsWith("job-"));
    const jobs = await Promise.all(names.map((name) => readJob(join(queue.inbox, name))));
    return jobs.filter((job) => !isTerminal(job.status)).length;
  }

  async function reopen(): Promise<{ read: number; states: Map<string, JobState> }> {
    const catalog = await openCatalog({ kind: "watched", queueRoot: queue.root, stateDir: stateDir() });
    if (!(catalog instanceof WatchedCatalog)) throw new Error("not a watched catalog");
    const { read } = catalog.index.lastBuild;
    const page = await catalog.query({ limit: JOBS + 10 });
    await catalog.close();
    return { read, states: new Map(page.rows.map((row) => [row.job_id, row.state])) };
  }

  beforeAll(async () => {
    // The queue as the describe above left it: every job of the generator, read once in full.
    const first = await reopen();
    expect(first.read).toBeGreaterThanOrEqual(JOBS);
    expect(first.states).toEqual(generated.states);
  });

  test("nothing changed: only the live jobs are read", async () => {
    const live = await liveOnDisk();
    expect(live).toBe(idsIn("queued").length + idsIn("running").length);
    expect(live).toBeGreaterThan(0);
    expect((await reopen()).read).toBe(live);
  });

  const target = (state: string, at = 0) => idsIn(state)[at] as string;

  test.each<[string, () => Promise<[string, JobState | undefined]>, number]>([
    [
      "a submission added",
      async () => {
        const id = "job-20270102-000000-added";
        await submitCopy(queue, target("submitted"), id, "2027-01-02T00:00:00Z");
        return [id, "submitted"];
      },
      1,
    ],
    [
      "a finished job removed",
      async () => {
        await removeEverywhere(queue, target("completed"));
        return [target("completed"), undefined];
      },
      1,
    ],
    [
      "a finished job archived",
      async () => {
        await archiveBehind(queue, target("failed"));
        return [target("failed"), "archived"];
      },
      2,
    ],
    [
      "a running job finished",
      async () => {
        await finishJob(queue, target("running"), "completed");
        return [target("running"), "completed"];
      },
      0,
    ],
    [
      "a finished job's job.json rewritten in place (no folder listing moves)",
      async () => {
        await rewriteFinal(queue, target("completed", 1), "failed");
        return [target("completed", 1), "failed"];
      },
      0,
    ],
  ])(
    "%s: read are the changed job and the live ones; the listing shows it",
    async (_what, change, changedReads) => {
      const live = await liveOnDisk();
      const [id, state] = await change();
      const { read, states } = await reopen();
      expect(read).toBe(live + changedReads);
      expect(states.get(id)).toBe(state);
      if (state === undefined) expect(states.has(id)).toBe(false);
    },
  );

  test("once its stamps have settled, a reopen lists no root and reads only live jobs", async () => {
    await withSettledClock(() => reopen());
    const catalog = await openCatalog({ kind: "disk", queueRoot: queue.root, stateDir: stateDir() });
    if (!(catalog instanceof IndexedCatalog)) throw new Error("not an indexed catalog");
    const { store } = catalog.index;
    for (const root of QUEUE_ROOTS) expect(store.stamp(root)).toEqual(await dirStamp(queue[root]));
    await catalog.close();
    const { read } = await reopen();
    expect(read).toBe(await liveOnDisk());
  });
});
