import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect } from "vitest";
import { LedgerBook } from "../../../plugin/notifier/ledger-book.ts";
import { LEDGER_DB_FILE } from "../../../plugin/notifier/ledger-store.ts";
import { readLedgerStore } from "../../../plugin/notifier/ledger-store-open.ts";
import { AT, commitWatch, doneEntry, ENTRY, ID, ledgerTest as it, NOW, openStore } from "./ledger-fixture.ts";

/** A book over a store holding ENTRY (open) and, when asked, more; with a watch on its commits. */
async function bookIn(dir: string, more: ReturnType<typeof doneEntry>[] = []) {
  const { store } = await openStore(dir);
  store.importMissing([ENTRY, ...more]);
  const watch = commitWatch(dir);
  return { book: new LedgerBook(store), store, watch };
}

const jobs = (dir: string) => Object.keys(readLedgerStore(dir).jobs).sort();

describe("LedgerBook", () => {
  it.for<{ why: string; act: (book: LedgerBook) => void; jobs: string[]; written: boolean }>([
    { why: "nothing changed: nothing written", act: () => undefined, jobs: [ID], written: false },
    {
      why: "an entry added",
      act: (book) => book.add({ ...ENTRY, job_id: "job-b" }),
      jobs: [ID, "job-b"],
      written: true,
    },
    { why: "an entry removed (pruned)", act: (book) => book.remove(ID), jobs: [], written: true },
    {
      why: "removing an unknown id changes nothing",
      act: (book) => book.remove("job-x"),
      jobs: [ID],
      written: false,
    },
    {
      why: "an entry changed",
      act: (book) => {
        book.change(ID, (e) => {
          e.handoff = { state: "acknowledged", at: AT, by: "receipt", sent_at: [] };
        });
      },
      jobs: [ID],
      written: true,
    },
  ])("commit: $why", async ({ act, jobs: expected, written }, { dir }) => {
    const { book, store, watch } = await bookIn(dir);
    act(book);
    await book.commit();
    expect(watch.committed()).toBe(written);
    expect(jobs(dir)).toEqual(expected.sort());
    watch.close();
    store.close();
  });

  it("writes an unchanged cursor or inbox stamp only once (an idle rescan writes nothing)", async ({
    dir,
  }) => {
    const { book, store, watch } = await bookIn(dir);
    const stamp = { ino: "7", ctime_ns: "1770746400000000000" };
    book.setCursor({ instance: "abc", counter: 42 });
    book.setInboxStamp(stamp);
    await book.commit();
    expect(watch.committed()).toBe(true);
    book.setCursor({ instance: "abc", counter: 42 });
    book.setInboxStamp({ ...stamp });
    await book.commit();
    expect(watch.committed()).toBe(false);
    const again = new LedgerBook(store);
    expect(again.cursor()).toEqual({ instance: "abc", counter: 42 });
    expect(again.inboxStamp()).toEqual(stamp);
    watch.close();
    store.close();
  });

  it("reads entries from the store on demand: a done entry is not held once committed", async ({ dir }) => {
    const { book, store, watch } = await bookIn(dir, [doneEntry("job-done")]);
    expect(book.get("job-done")?.handoff.state).toBe("acknowledged");
    // Another connection rewrites the row: the book answers what the store says now.
    const other = new DatabaseSync(join(dir, LEDGER_DB_FILE));
    other
      .prepare("UPDATE entries SET entry = json_set(entry, '$.channel', '#elsewhere') WHERE job_id = ?")
      .run("job-done");
    other.close();
    expect(book.get("job-done")?.channel).toBe("#elsewhere");
    watch.close();
    store.close();
  });

  it("answers its queries with the changes not committed yet", async ({ dir }) => {
    const { book, store, watch } = await bookIn(dir, [doneEntry("job-done")]);
    const never = {
      ...ENTRY,
      job_id: "job-new",
      handoff: { state: "pending" as const, since: AT, sent_at: [] },
    };
    book.add(never);
    book.change(ID, (e) => {
      e.handoff = { state: "acknowledged", at: AT, by: "archive", sent_at: [AT] };
    });
    expect(book.openIds()).toEqual(["job-new"]);
    expect(book.dueHandoffs(NOW.getTime(), 600_000)).toEqual(["job-new"]);
    expect(book.summaries([ID, "job-new", "job-done", "job-x"])).toEqual(
      new Map([
        [ID, { open: false, acknowledgedAt: AT }],
        ["job-new", { open: true }],
        ["job-done", { open: false, acknowledgedAt: AT }],
      ]),
    );
    await book.commit();
    expect(book.openIds()).toEqual(["job-new"]);
    expect(book.dueHandoffs(NOW.getTime(), 600_000)).toEqual(["job-new"]);
    watch.close();
    store.close();
  });

  it("finds pending hand-offs due again by their last send", async ({ dir }) => {
    const { book, store, watch } = await bookIn(dir);
    // ENTRY was last handed over at NOW.
    expect(book.dueHandoffs(NOW.getTime() + 599_999, 600_000)).toEqual([]);
    expect(book.dueHandoffs(NOW.getTime() + 600_000, 600_000)).toEqual([ID]);
    watch.close();
    store.close();
  });

  it("keeps live jobs across a reopen, and forgets one no longer live", async ({ dir }) => {
    const { book, store, watch } = await bookIn(dir);
    book.setLive("job-running", true);
    book.setLive("job-syncing", true);
    await book.commit();
    book.setLive("job-syncing", false);
    await book.commit();
    expect(new LedgerBook(store).liveIds()).toEqual(["job-running"]);
    watch.close();
    store.close();
  });

  it("changes only entries it has", async ({ dir }) => {
    const { book, store, watch } = await bookIn(dir);
    expect(book.change("job-x", () => undefined)).toBe(false);
    expect(book.change(ID, () => undefined)).toBe(true);
    watch.close();
    store.close();
  });

  it("writes commits in order, the last one winning", async ({ dir }) => {
    const { book, store, watch } = await bookIn(dir);
    const writes: Promise<void>[] = [];
    for (let n = 0; n < 5; n++) {
      book.add({ ...ENTRY, job_id: `job-${n}` });
      writes.push(book.commit());
    }
    await Promise.all(writes);
    expect(jobs(dir)).toHaveLength(6);
    watch.close();
    store.close();
  });

  it("once closed, changes nothing and writes nothing (the ledger belongs to the next lock holder)", async ({
    dir,
  }) => {
    const { book, store, watch } = await bookIn(dir);
    await book.close();
    expect(book.open).toBe(false);
    book.add({ ...ENTRY, job_id: "job-b" });
    expect(book.change(ID, () => undefined)).toBe(false);
    book.setCursor({ instance: "abc", counter: 1 });
    book.endFirstScan();
    await book.commit();
    expect(watch.committed()).toBe(false);
    expect(book.get("job-b")).toBeUndefined();
    expect(jobs(dir)).toEqual([ID]);
    watch.close();
    store.close();
  });

  it("keeps first-start status until the first scan ends, and records that it ended", async ({ dir }) => {
    const { store } = await openStore(dir);
    const book = new LedgerBook(store);
    expect(book.firstStart).toBe(true);
    book.endFirstScan();
    expect(book.firstStart).toBe(false);
    // Not written yet: a crash now makes the next start a first start again.
    expect(new LedgerBook(store).firstStart).toBe(true);
    await book.commit();
    expect(new LedgerBook(store).firstStart).toBe(false);
    store.close();
  });
});
