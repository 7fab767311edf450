import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect } from "vitest";
import { openLedger } from "../../../plugin/notifier/ledger-open.ts";
import { LEDGER_DB_FILE } from "../../../plugin/notifier/ledger-store.ts";
import { readLedgerStore } from "../../../plugin/notifier/ledger-store-open.ts";
import type { LogLevel } from "../../../plugin/notifier/notifier-context.ts";
import type { Ledger } from "../../../plugin/notifier/notifier-ledger.ts";
import { LEDGER_FILE, saveLedger } from "../../../plugin/notifier/notifier-ledger.ts";
import { AT, doneEntry, ENTRY, ID, ledgerTest as it, NOW } from "./ledger-fixture.ts";

const OLD: Ledger = { version: 1, created_at: AT, jobs: { [ID]: ENTRY, "job-done": doneEntry("job-done") } };

async function open(dir: string) {
  const logs: { level: LogLevel; message: string }[] = [];
  const opened = await openLedger(dir, NOW, (level, message) => logs.push({ level, message }));
  return { ...opened, logs };
}

describe("opening the notifier ledger", () => {
  it("with nothing there: a new store and a first start", async ({ dir }) => {
    const { book, store, logs } = await open(dir);
    expect(book.firstStart).toBe(true);
    expect(logs).toEqual([]);
    store.close();
  });

  it("imports an old ledger.json once, keeps it renamed aside, and is no first start", async ({ dir }) => {
    await saveLedger(dir, OLD);
    const original = await readFile(join(dir, LEDGER_FILE), "utf8");
    const first = await open(dir);
    expect(first.book.firstStart).toBe(false);
    expect(first.book.get(ID)).toEqual(ENTRY);
    expect(first.book.openIds()).toEqual([ID]);
    const kept = `${LEDGER_FILE}.imported-${NOW.getTime()}`;
    expect(first.logs).toEqual([
      { level: "info", message: expect.stringContaining(`imported 2 of 2 entries from ${LEDGER_FILE}`) },
    ]);
    expect(first.logs[0]?.message).toContain(kept);
    first.store.close();
    expect(await readFile(join(dir, kept), "utf8")).toBe(original);
    expect(await readdir(dir)).not.toContain(LEDGER_FILE);
    expect(readLedgerStore(dir).jobs).toEqual(OLD.jobs);

    // Opened again: nothing left to import, the store as it was.
    const second = await open(dir);
    expect(second.logs).toEqual([]);
    expect(second.book.firstStart).toBe(false);
    second.store.close();
    expect(readLedgerStore(dir).jobs).toEqual(OLD.jobs);
  });

  it("a ledger.json back beside the store adds only the jobs the store lacks", async ({ dir }) => {
    const first = await open(dir);
    first.book.add(doneEntry(ID));
    await first.book.commit();
    first.store.close();
    await saveLedger(dir, OLD);
    const second = await open(dir);
    expect(second.logs[0]?.message).toContain("imported 1 of 2 entries");
    expect(second.book.get(ID)?.handoff.state).toBe("acknowledged");
    second.store.close();
  });

  it("a corrupt ledger.json is kept aside as before, not imported, and the start is a first start", async ({
    dir,
  }) => {
    await writeFile(join(dir, LEDGER_FILE), "{ not json");
    const { book, store, logs } = await open(dir);
    expect(book.firstStart).toBe(true);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.level).toBe("error");
    expect(logs[0]?.message).toContain(`kept as ${join(dir, `${LEDGER_FILE}.corrupt-${NOW.getTime()}`)}`);
    expect(logs[0]?.message).toContain("others may be");
    store.close();
    expect(await readFile(join(dir, `${LEDGER_FILE}.corrupt-${NOW.getTime()}`), "utf8")).toBe("{ not json");
  });

  it("an unreadable store: kept aside, said in an error line, a new ledger and a first start", async ({
    dir,
  }) => {
    await writeFile(join(dir, LEDGER_DB_FILE), "garbage that is no database, long enough to have a header");
    const { book, store, logs } = await open(dir);
    expect(book.firstStart).toBe(true);
    expect(logs).toEqual([
      {
        level: "error",
        message: expect.stringMatching(
          /^the ledger was unreadable \(.+\); it was kept as .+ledger\.sqlite\.corrupt-\d+ and a new one started: jobs already fetched or archived are not announced again, others may be$/,
        ),
      },
    ]);
    store.close();
  });

  it("says once that a row is unreadable, naming how to have the job recorded afresh", async ({ dir }) => {
    const first = await open(dir);
    first.book.add(ENTRY);
    await first.book.commit();
    first.store.close();
    const db = new DatabaseSync(join(dir, LEDGER_DB_FILE));
    db.prepare("UPDATE entries SET entry = '{' WHERE job_id = ?").run(ID);
    db.close();
    const { book, store, logs } = await open(dir);
    expect(book.get(ID)).toBeUndefined();
    expect(book.get(ID)).toBeUndefined();
    expect(book.has(ID)).toBe(true);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.message).toContain(`${ID}: its ledger row is unreadable`);
    expect(logs[0]?.message).toContain(`DELETE FROM entries WHERE job_id = '${ID}'`);
    store.close();
  });
});
