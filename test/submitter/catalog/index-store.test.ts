// The index's tables on their own: the change counter moves only when what a row shows changed, an
// identical read writes nothing, removals are remembered for cursors (and forgotten beyond a bound,
// which a cursor must be told), totals follow every write, and a batch is one transaction.
import { beforeEach, describe, expect, test } from "vitest";
import type { IndexStore, JobFacts } from "../../../submitter/catalog/index-store.ts";
import { sortKeyOf } from "../../../submitter/catalog/index-store.ts";
import type { CatalogRow } from "../../../submitter/catalog/job-catalog.ts";
import { memoryIndexStore } from "../../../submitter/catalog/open-catalog.ts";

const ID = "job-20260520-120000-store";

function row(patch: Partial<CatalogRow> = {}): CatalogRow {
  return {
    job_id: ID,
    state: "running",
    project: "lidar-bracket",
    created_by: "atlas",
    created_at: "2026-05-20T12:00:00Z",
    seq: 3,
    change: 0,
    ...patch,
  };
}

function facts(patch: Partial<JobFacts> = {}): JobFacts {
  return {
    inOutbox: true,
    inInbox: true,
    live: true,
    settled: undefined,
    archives: [],
    proof: "p1",
    ...patch,
  };
}

/** The total of one group, read through the counts table as list_jobs reads it. */
function total(store: IndexStore, state: string): number {
  return store.count("SELECT coalesce(sum(n), 0) AS n FROM counts WHERE state = ?", [state]);
}

let store: IndexStore;

beforeEach(async () => {
  store = await memoryIndexStore();
  return () => store.close();
});

describe("put", () => {
  test("the first write adds the row and takes counter 1", () => {
    const outcome = store.put(ID, row(), facts());
    expect(outcome).toMatchObject({ changed: true, added: true, row: { change: 1 } });
    expect(store.counter()).toBe(1);
    expect(store.row(ID)).toMatchObject({ state: "running", change: 1 });
  });

  test.each<[string, Partial<CatalogRow>, Partial<JobFacts>]>([
    ["an identical read", {}, {}],
    ["a heartbeat (seq only)", { seq: 4 }, {}],
    ["a new proof (file rewritten, same content)", {}, { proof: "p2" }],
    ["the results settling", {}, { settled: "2026-05-20T12:30:00Z" }],
  ])("%s keeps the counter", (_what, rowPatch, factsPatch) => {
    store.put(ID, row(), facts());
    const outcome = store.put(ID, row(rowPatch), facts(factsPatch));
    expect(outcome).toMatchObject({ changed: false, added: false, row: { change: 1 } });
    expect(store.counter()).toBe(1);
    // What was written is kept: the next read compares with the new proof, not the old one.
    expect(store.proofsOf([ID]).get(ID)?.proof).toBe(factsPatch.proof ?? "p1");
    expect(store.row(ID)?.seq).toBe(rowPatch.seq ?? 3);
  });

  test.each([
    ["a new state", { state: "completed" as const }],
    ["progress", { trials_complete: 7 }],
    ["a problem", { problem: "inbox job.json: not JSON" }],
    ["another project", { project: "cubesat-panel" }],
  ])("%s moves the counter", (_what, rowPatch) => {
    store.put(ID, row(), facts());
    const outcome = store.put(ID, row(rowPatch), facts());
    expect(outcome).toMatchObject({ changed: true, added: false, row: { change: 2 } });
    expect(store.counter()).toBe(2);
  });

  test("totals follow the state and project a row moves to", () => {
    store.put(ID, row(), facts());
    store.put("job-20260520-120100-other", row({ job_id: "job-20260520-120100-other" }), facts());
    expect(total(store, "running")).toBe(2);
    store.put(ID, row({ state: "failed" }), facts());
    expect([total(store, "running"), total(store, "failed")]).toEqual([1, 1]);
    store.remove(ID);
    expect([total(store, "running"), total(store, "failed")]).toEqual([1, 0]);
  });

  test("archive names are replaced by those the read found, newest first", () => {
    const names = [`${ID}-20260521T120000Z`, `${ID}-20260522T120000Z`];
    store.put(ID, row({ state: "archived" }), facts({ archives: names }));
    expect(store.archiveNames(ID)).toEqual([...names].reverse());
    expect(store.namesIn("archive")).toEqual(new Set(names));
    store.put(ID, row({ state: "archived" }), facts({ archives: [names[1] as string] }));
    expect(store.archiveNames(ID)).toEqual([names[1]]);
  });

  test("a page's stored proofs come with their archive names, newest first; unknown ids are left out", () => {
    const other = "job-20260520-120000-other";
    const names = [`${ID}-20260521T120000Z`, `${ID}-20260522T120000Z`];
    store.put(ID, row({ state: "archived" }), facts({ archives: names, proof: "pa" }));
    store.put(other, row({ job_id: other }), facts({ archives: [], proof: "pb" }));
    const stored = store.proofsOf([ID, other, "job-20260520-120000-unknown"]);
    expect([...stored.keys()].sort()).toEqual([ID, other].sort());
    expect(stored.get(ID)).toEqual({ proof: "pa", archives: [...names].reverse() });
    expect(stored.get(other)).toEqual({ proof: "pb", archives: [] });
  });

  test("namesIn and liveIds say which root holds which job", () => {
    const other = "job-20260520-120100-other";
    store.put(ID, row(), facts({ inOutbox: true, inInbox: false, live: false }));
    store.put(other, row({ job_id: other }), facts({ inOutbox: false, inInbox: true, live: true }));
    expect(store.namesIn("outbox")).toEqual(new Set([ID]));
    expect(store.namesIn("inbox")).toEqual(new Set([other]));
    expect(store.liveIds()).toEqual([other]);
  });
});

describe("remove", () => {
  test("a removal takes a counter and is reported since an earlier one", () => {
    store.put(ID, row(), facts());
    const before = store.counter();
    const change = store.remove(ID);
    expect(change).toBe(before + 1);
    expect(store.row(ID)).toBeUndefined();
    expect(store.removedAt(ID)).toBe(change);
    expect(store.removedSince(before)).toEqual({ ids: [ID], complete: true });
    expect(store.removedSince(change as number)).toEqual({ ids: [], complete: true });
    // Forgetting a job the index never had is no change.
    expect(store.remove("job-20260520-120200-never")).toBeUndefined();
    expect(store.counter()).toBe(change);
  });

  test("a job that comes back is no longer reported removed", () => {
    store.put(ID, row(), facts());
    store.remove(ID);
    store.put(ID, row(), facts());
    expect(store.removedSince(0).ids).toEqual([]);
    expect(store.removedAt(ID)).toBeUndefined();
  });

  test("beyond 10,000 remembered removals an old cursor is told its record is incomplete", async () => {
    const count = 10_002;
    const ids = Array.from({ length: count }, (_, i) => `job-20260520-120000-r${i}`);
    store.batch(() => {
      for (const id of ids) store.put(id, row({ job_id: id }), facts());
    });
    const cursor = store.counter();
    store.batch(() => {
      for (const id of ids) store.remove(id);
    });
    const since = store.removedSince(cursor);
    expect(since.complete).toBe(false);
    expect(since.ids.length).toBeLessThanOrEqual(10_000);
    // A cursor taken after the forgotten ones is still complete.
    expect(store.removedSince(cursor + count - 5)).toEqual({ ids: ids.slice(-5), complete: true });
  });
});

describe("batch", () => {
  test("a batch that fails keeps none of its writes", async () => {
    store.put(ID, row(), facts());
    const failing = () =>
      store.batch(() => {
        store.put(ID, row({ state: "completed" }), facts());
        store.put("job-20260520-120100-other", row({ job_id: "job-20260520-120100-other" }), facts());
        throw new Error("read failed");
      });
    expect(failing).toThrow("read failed");
    expect(store.row(ID)?.state).toBe("running");
    expect(store.ids()).toEqual([ID]);
    expect(store.counter()).toBe(1);
    expect(total(store, "running")).toBe(1);
  });

  test("a nested batch joins the outer one", async () => {
    store.batch(() => {
      store.batch(() => {
        store.put(ID, row(), facts());
      });
      store.put(ID, row({ state: "failed" }), facts());
    });
    expect(store.row(ID)).toMatchObject({ state: "failed", change: 2 });
  });
});

test.each([
  ["created_at when there is one", row(), "2026-05-20T12:00:00Z"],
  ["the id's stamp without one", row({ created_at: undefined }), "20260520T120000"],
  ["nothing for a name without a stamp", row({ job_id: "job-odd", created_at: undefined }), ""],
])("sortKeyOf uses %s", (_what, given, expected) => {
  expect(sortKeyOf(given)).toBe(expected);
});
