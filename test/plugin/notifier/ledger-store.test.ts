import { readdir, readFile, rename, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect } from "vitest";
import { LEDGER_DB_FILE } from "../../../plugin/notifier/ledger-store.ts";
import { readLedgerStore } from "../../../plugin/notifier/ledger-store-open.ts";
import type { LedgerEntry } from "../../../plugin/notifier/notifier-ledger.ts";
import { AT, doneEntry, ENTRY, ID, ledgerTest as it, NOW, openStore } from "./ledger-fixture.ts";

const aside = `${LEDGER_DB_FILE}.corrupt-${NOW.getTime()}`;

describe("ledger store", () => {
  it("makes a store where there is none, and keeps what it wrote across a reopen", async ({ dir }) => {
    const first = await openStore(dir);
    expect(first).toMatchObject({ kind: "opened", fresh: true });
    first.store.importMissing([ENTRY, doneEntry("job-done")]);
    first.store.close();
    const again = await openStore(dir);
    expect(again).toMatchObject({ kind: "opened", fresh: false });
    expect(again.store.get(ID)).toEqual(ENTRY);
    expect(again.store.openIds()).toEqual([ID]);
    again.store.close();
    expect(readLedgerStore(dir)).toEqual({
      version: 1,
      created_at: AT,
      jobs: { [ID]: ENTRY, "job-done": doneEntry("job-done") },
    });
  });

  it("refuses to write an entry that breaks its schema, and writes nothing of that commit", async ({
    dir,
  }) => {
    const { store } = await openStore(dir);
    const bad = { ...ENTRY, job_id: "job-bad", status: "running" } as unknown as LedgerEntry;
    expect(() =>
      store.write({
        entries: new Map([
          ["job-ok", doneEntry("job-ok")],
          ["job-bad", bad],
        ]),
        live: new Map(),
        meta: new Map(),
      }),
    ).toThrow();
    expect(store.has("job-ok")).toBe(false);
    store.close();
  });

  it("imports only entries it lacks: a row already there wins", async ({ dir }) => {
    const { store } = await openStore(dir);
    store.importMissing([doneEntry(ID)]);
    expect(store.importMissing([ENTRY, doneEntry("job-b")])).toBe(1);
    expect(store.get(ID)?.handoff.state).toBe("acknowledged");
    store.close();
  });

  it.for([
    { why: "not a database", content: "{ not a database at all, just text that goes on and on" },
    { why: "a ledger.json renamed", content: JSON.stringify({ version: 1, created_at: AT, jobs: {} }) },
  ])(
    "moves an unreadable store aside, never overwriting it, and starts a new one: $why",
    async ({ content }, { dir }) => {
      const path = join(dir, LEDGER_DB_FILE);
      await writeFile(path, content);
      const opened = await openStore(dir);
      expect(opened.kind).toBe("corrupt");
      if (opened.kind !== "corrupt") return;
      expect(opened.reason).toMatch(/not a database|malformed/);
      expect(opened.movedTo).toBe(join(dir, aside));
      expect(await readFile(opened.movedTo, "utf8")).toBe(content);
      expect(opened.store.openIds()).toEqual([]);
      opened.store.close();
      expect(
        (await readdir(dir)).filter((name) => !name.endsWith("-wal") && !name.endsWith("-shm")).sort(),
      ).toEqual([LEDGER_DB_FILE, aside].sort());
    },
  );

  it("moves a store of another version aside with its WAL", async ({ dir }) => {
    const { store } = await openStore(dir);
    store.importMissing([ENTRY]);
    store.write({ entries: new Map(), live: new Map(), meta: new Map([["version", "2"]]) });
    const opened = await openStore(dir);
    store.close();
    expect(opened.kind).toBe("corrupt");
    if (opened.kind !== "corrupt") return;
    expect(opened.reason).toContain("store version 2");
    opened.store.close();
    // The store kept aside still holds its entry, for a person to read.
    const kept = new DatabaseSync(opened.movedTo, { readOnly: true });
    expect(kept.prepare("SELECT job_id FROM entries").all()).toEqual([{ job_id: ID }]);
    kept.close();
  });

  it.skipIf(process.platform === "win32")(
    "treats a linked store as unreadable rather than opening through it",
    async ({ dir }) => {
      const elsewhere = join(dir, "elsewhere.sqlite");
      const { store } = await openStore(dir);
      store.close();
      await rename(join(dir, LEDGER_DB_FILE), elsewhere);
      await symlink(elsewhere, join(dir, LEDGER_DB_FILE));
      const opened = await openStore(dir);
      expect(opened.kind).toBe("corrupt");
      if (opened.kind === "corrupt") expect(opened.reason).toContain("not a regular file");
      opened.store.close();
    },
  );

  it("leaves an unreadable row alone: says so, reads it as absent, still knows the job", async ({ dir }) => {
    const badRows: string[] = [];
    const { store } = await openStore(dir, badRows);
    store.importMissing([ENTRY]);
    const other = new DatabaseSync(join(dir, LEDGER_DB_FILE));
    other
      .prepare("UPDATE entries SET entry = json_set(entry, '$.notified.state', 'lost') WHERE job_id = ?")
      .run(ID);
    other.close();
    expect(store.get(ID)).toBeUndefined();
    expect(store.has(ID)).toBe(true);
    expect(badRows).toHaveLength(1);
    expect(badRows[0]).toMatch(new RegExp(`^${ID}: .*notified`));
    expect([...store.all()]).toEqual([]);
    store.close();
  });
});
