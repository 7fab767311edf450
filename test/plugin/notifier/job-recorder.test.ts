// The recorder's rescan over a real queue and its watched catalog, through a wrapper that counts
// what the rescan asks: after the first pass a rescan reads only the jobs whose rows changed, the
// open entries and the live jobs, never the history.
import { mkdir } from "node:fs/promises";
import { describe, expect } from "vitest";
import type { NotifierReads } from "../../../plugin/notifier/catalog-reads.ts";
import { catalogReads } from "../../../plugin/notifier/catalog-reads.ts";
import { JobRecorder } from "../../../plugin/notifier/job-recorder.ts";
import { LedgerBook } from "../../../plugin/notifier/ledger-book.ts";
import { openLedgerStore } from "../../../plugin/notifier/ledger-store-open.ts";
import type { NotifierContext, Session } from "../../../plugin/notifier/notifier-context.ts";
import { notifierStateDir } from "../../../plugin/notifier/notifier-ledger.ts";
import { resolveNotifierOptions } from "../../../plugin/notifier/notifier-types.ts";
import { queuePaths } from "../../../protocol/index.ts";
import type { CatalogQuery, GetOptions, JobCatalog } from "../../../submitter/catalog/job-catalog.ts";
import { openCatalog } from "../../../submitter/catalog/open-catalog.ts";
import { engineTest as it, waitFor } from "./engine-harness.ts";
import { publishJob, writeReceipt } from "./queue-fixture.ts";

const HISTORY = 24;
const history = Array.from(
  { length: HISTORY },
  (_, n) => `job-20260209-1${String(n).padStart(5, "0")}-starspec-old`,
);
const RUNNING = "job-20260210-100000-starspec-running";
const LATER = "job-20260210-110000-starspec-later";

/** The catalog, counting the jobs `get` was asked for and every query with the rows it returned. */
function counting(catalog: JobCatalog) {
  const gets: string[] = [];
  const queries: { q: CatalogQuery; rows: number }[] = [];
  const wrapped: JobCatalog = Object.create(catalog, {
    get: {
      value: (id: string, options?: GetOptions) => {
        gets.push(id);
        return catalog.get(id, options);
      },
    },
    query: {
      value: async (q: CatalogQuery) => {
        const page = await catalog.query(q);
        queries.push({ q, rows: page.rows.length });
        return page;
      },
    },
  });
  const reset = () => {
    gets.length = 0;
    queries.length = 0;
  };
  return { wrapped, gets, queries, reset };
}

async function setUp(queueDir: string) {
  for (const id of history) {
    await publishJob(queueDir, {
      jobId: id,
      status: "completed",
      finishedAt: new Date(Date.now() - 3600_000),
    });
    await writeReceipt(queueDir, id, "completed");
  }
  await publishJob(queueDir, { jobId: RUNNING, status: "running" });
  const catalog = await openCatalog({ kind: "watched", queueRoot: queueDir, log: () => undefined });
  const count = counting(catalog);
  const { stateDir, inbox } = queuePaths(queueDir);
  const dir = notifierStateDir(stateDir);
  await mkdir(dir, { recursive: true });
  const { store } = await openLedgerStore(dir, new Date(), () => undefined);
  const book = new LedgerBook(store);
  const logs: string[] = [];
  const ctx: NotifierContext = {
    options: resolveNotifierOptions({
      queueDir,
      agentId: "optimizer",
      sessionKey: "agent:optimizer:main",
      channels: {},
      resendAfterMs: 600_000,
    }),
    ports: {} as NotifierContext["ports"],
    clock: { now: () => Date.now(), setTimeout: () => 0, clearTimeout: () => undefined },
    log: (_level, message) => logs.push(message),
  };
  const reads: NotifierReads = catalogReads(count.wrapped, inbox);
  const session: Session = { book, reads, lock: { holds: async () => true } };
  const recorder = new JobRecorder(ctx);
  const rescan = async () => {
    for await (const _ of recorder.rescan(session)) await book.commit();
  };
  const close = async () => {
    await book.close();
    store.close();
    await catalog.close();
  };
  return { catalog, count, book, rescan, close, logs };
}

describe("JobRecorder.rescan", () => {
  it("after the first pass reads only the changed rows, the open entries and the live jobs", async ({
    queueDir,
  }) => {
    const { catalog, count, book, rescan, close } = await setUp(queueDir);
    try {
      await rescan();
      book.endFirstScan();
      await book.commit();
      expect(new Set(count.gets)).toEqual(new Set([...history, RUNNING]));
      expect(book.liveIds()).toEqual([RUNNING]);
      const cursor = book.cursor();
      expect(cursor?.counter).toBeGreaterThan(0);

      // Nothing changed: only the live job is read, and the catalog returns no row.
      count.reset();
      await rescan();
      expect(count.gets).toEqual([RUNNING]);
      expect(count.queries).toEqual([
        { q: { order: "change", limit: 200, changedAfter: cursor?.counter }, rows: 0 },
      ]);

      // One job ends, another one appears; the history stays as it was.
      await publishJob(queueDir, { jobId: RUNNING, status: "completed" });
      await publishJob(queueDir, {
        jobId: LATER,
        status: "failed",
        error: { kind: "timeout", message: "late" },
      });
      await waitFor(
        "the catalog to see both",
        async () =>
          (await catalog.query({ order: "change", changedAfter: cursor?.counter ?? 0 })).rows.length === 2,
      );
      count.reset();
      await rescan();
      expect([...count.gets].sort()).toEqual([LATER, RUNNING].sort());
      expect(count.queries.map((query) => query.rows)).toEqual([2]);
      expect(book.get(RUNNING)?.handoff.state).toBe("pending");
      expect(book.get(LATER)?.notified.state).toBe("unmapped");
      expect(book.liveIds()).toEqual([]);
      expect(book.cursor()?.counter).toBeGreaterThan(cursor?.counter ?? 0);
    } finally {
      await close();
    }
  });

  it("a catalog of another instance (its index rebuilt) means one full pass, which still skips done jobs", async ({
    queueDir,
  }) => {
    const { count, book, rescan, close, logs } = await setUp(queueDir);
    try {
      await rescan();
      await book.commit();
      const cursor = book.cursor();
      book.setCursor({ instance: "rebuilt-elsewhere", counter: 1_000_000 });
      await book.commit();
      count.reset();
      await rescan();
      expect(logs).toContain("the job catalog was rebuilt since the last rescan: reading every job once");
      expect(count.queries.map((query) => query.q.changedAfter)).toEqual([1_000_000, undefined]);
      expect(count.queries[1]?.rows).toBe(HISTORY + 1);
      // Every row came back, but the done jobs were not read again: only the live one.
      expect(count.gets).toEqual([RUNNING]);
      expect(book.cursor()).toEqual(cursor);
    } finally {
      await close();
    }
  });
});
