// buildQuery's SQL against a brute-force filter, sort and slice of the same rows: every filter, several
// states merged (the part queries cut at the page's depth), offsets across the merge, change order for
// readers catching up, and totals (from the counts table, or count(*) with a change filter).
import { afterAll, beforeAll, expect, test } from "vitest";
import { buildQuery } from "../../../submitter/catalog/index-query.ts";
import type { IndexStore } from "../../../submitter/catalog/index-store.ts";
import { sortKeyOf } from "../../../submitter/catalog/index-store.ts";
import type { CatalogQuery, CatalogRow, JobState } from "../../../submitter/catalog/job-catalog.ts";
import { memoryIndexStore } from "../../../submitter/catalog/open-catalog.ts";

const STATES: JobState[] = ["submitted", "queued", "running", "completed", "failed", "archived"];
const PROJECTS = ["starspec-m1-wfe", "lidar-bracket", undefined];
const AGENTS = ["atlas", "hermes", "iris", undefined];
const COUNT = 240;

let store: IndexStore;
/** Every row as stored, with its change counter. */
let rows: CatalogRow[] = [];

/** A deterministic spread: states, projects and agents cycle at different periods; some share a time. */
function planRow(i: number): CatalogRow {
  const minute = String(Math.floor(i / 2) % 60).padStart(2, "0");
  const hour = String(Math.floor(i / 120)).padStart(2, "0");
  const jobId = `job-20260520-${hour}${minute}00-q${String(i).padStart(3, "0")}`;
  const project = PROJECTS[i % PROJECTS.length];
  const createdBy = AGENTS[(i * 7) % AGENTS.length];
  return {
    job_id: jobId,
    state: STATES[(i * 5) % STATES.length] as JobState,
    ...(project ? { project } : {}),
    ...(createdBy ? { created_by: createdBy } : {}),
    // Pairs share a submission time: ties are ordered by job id, newest (largest) first.
    ...(i % 11 === 0 ? {} : { created_at: `2026-05-20T${hour}:${minute}:00Z` }),
    seq: 0,
    change: 0,
  };
}

function newestFirst(a: CatalogRow, b: CatalogRow): number {
  const [ka, kb] = [sortKeyOf(a), sortKeyOf(b)];
  if (ka !== kb) return ka < kb ? 1 : -1;
  return a.job_id < b.job_id ? 1 : a.job_id > b.job_id ? -1 : 0;
}

function bruteForce(query: CatalogQuery): { ids: string[]; total: number } {
  const matching = rows.filter(
    (row) =>
      (!query.states?.length || query.states.includes(row.state)) &&
      (query.project === undefined || row.project === query.project) &&
      (query.created_by === undefined || row.created_by === query.created_by) &&
      (query.changedAfter === undefined || row.change > query.changedAfter),
  );
  const ordered =
    query.order === "change"
      ? [...matching].sort((a, b) => a.change - b.change)
      : [...matching].sort(newestFirst);
  const offset = query.offset ?? 0;
  return {
    ids: ordered.slice(offset, offset + (query.limit ?? 200)).map((row) => row.job_id),
    total: matching.length,
  };
}

beforeAll(async () => {
  store = await memoryIndexStore();
  const facts = { inOutbox: true, inInbox: false, live: false, settled: undefined, archives: [], proof: "-" };
  store.batch(() => {
    for (let i = 0; i < COUNT; i++) store.put(planRow(i).job_id, planRow(i), facts);
    // Some rows move on after the others were written: change order is not insertion order.
    for (let i = 0; i < COUNT; i += 9)
      store.put(planRow(i).job_id, { ...planRow(i), state: "failed" }, facts);
  });
  rows = store.ids().map((id) => store.row(id) as CatalogRow);
});

afterAll(() => store?.close());

const middle = Math.floor((COUNT * 1.1) / 2);

test.each<[string, CatalogQuery]>([
  ["everything, default page", {}],
  ["a small first page", { limit: 7 }],
  ["a page deep in", { limit: 13, offset: 101 }],
  ["past the end", { offset: COUNT + 5 }],
  ["one state", { states: ["running"] }],
  ["two states", { states: ["completed", "failed"], limit: 10 }],
  ["two states, offset across the merge", { states: ["submitted", "failed"], limit: 9, offset: 17 }],
  ["every state at once", { states: STATES, limit: 25, offset: 40 }],
  ["three states, last page", { states: ["queued", "running", "archived"], offset: 60, limit: 50 }],
  ["a project", { project: "lidar-bracket" }],
  ["an agent", { created_by: "hermes", limit: 11, offset: 3 }],
  [
    "states, project and agent",
    { states: ["failed", "running"], project: "starspec-m1-wfe", created_by: "iris" },
  ],
  ["a project nobody has", { project: "nobody" }],
  ["changed after a cursor", { changedAfter: middle }],
  ["changed after, in change order", { changedAfter: middle, order: "change", limit: 15 }],
  ["changed after, two states", { changedAfter: 40, states: ["failed", "queued"], limit: 12, offset: 4 }],
  ["change order, several states", { order: "change", states: ["failed", "archived"], limit: 20 }],
  ["change order from the start", { order: "change", changedAfter: 0, limit: 30, offset: 10 }],
])("%s", (_what, query) => {
  const built = buildQuery(query);
  const expected = bruteForce(query);
  expect(store.rows(built.page.sql, built.page.params).map((row) => row.job_id)).toEqual(expected.ids);
  expect(store.count(built.total.sql, built.total.params)).toBe(expected.total);
});

test("the fixture spreads rows over every filter (the cases above are not vacuous)", () => {
  for (const state of STATES) expect(rows.some((row) => row.state === state)).toBe(true);
  expect(rows.some((row) => row.project === undefined)).toBe(true);
  expect(rows.some((row) => row.created_at === undefined)).toBe(true);
  expect(new Set(rows.map((row) => row.change)).size).toBe(COUNT);
});
