import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Ledger, LedgerEntry } from "../../../plugin/notifier/notifier-ledger.ts";
import {
  emptyLedger,
  LEDGER_FILE,
  loadLedger,
  saveLedger,
} from "../../../plugin/notifier/notifier-ledger.ts";

const NOW = new Date("2026-02-10T18:00:00Z");
const AT = NOW.toISOString();
const ID = "job-20260210-143022-starspec-m1-wfe-sweep";

const ENTRY: LedgerEntry = {
  job_id: ID,
  status: "completed",
  channel: "#starspec-m1-wfe",
  finished_at: AT,
  recorded_at: AT,
  notified: { state: "sent", at: AT, target: "telegram:12345", attempts: 1, message_id: "7" },
  handoff: { state: "pending", since: AT, sent_at: [AT] },
};
const LEDGER: Ledger = { version: 1, created_at: AT, jobs: { [ID]: ENTRY } };

describe("notifier ledger", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "atomizer-notifier-ledger-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const path = () => join(dir, LEDGER_FILE);

  it("saves a ledger whole and loads it back", async () => {
    await saveLedger(dir, LEDGER);
    expect(await loadLedger(dir, NOW)).toEqual({ kind: "found", ledger: LEDGER });
    expect(await readdir(dir)).toEqual([LEDGER_FILE]);
  });

  it("says absent when there is no ledger (a first start)", async () => {
    expect(await loadLedger(dir, NOW)).toEqual({ kind: "absent" });
    expect(emptyLedger(NOW)).toEqual({ version: 1, created_at: AT, jobs: {} });
  });

  it("refuses to save a ledger that breaks its own schema", async () => {
    const bad = { ...LEDGER, jobs: { [ID]: { ...ENTRY, status: "running" } } } as unknown as Ledger;
    await expect(saveLedger(dir, bad)).rejects.toThrow();
    expect(await readdir(dir)).toEqual([]);
  });

  it.each([
    { why: "not JSON", content: "{ not json", reason: /JSON|json/ },
    { why: "cut short mid-write", content: JSON.stringify(LEDGER).slice(0, 40), reason: /JSON|json/ },
    { why: "a newer version", content: JSON.stringify({ ...LEDGER, version: 2 }), reason: /version/ },
    {
      why: "an unknown notified state",
      content: JSON.stringify({
        ...LEDGER,
        jobs: { [ID]: { ...ENTRY, notified: { state: "lost", at: AT } } },
      }),
      reason: /notified/,
    },
    {
      why: "a bad timestamp",
      content: JSON.stringify({ ...LEDGER, created_at: "yesterday" }),
      reason: /created_at/,
    },
  ])("moves a corrupt ledger aside and says why: $why", async ({ content, reason }) => {
    await writeFile(path(), content);
    const loaded = await loadLedger(dir, NOW);
    expect(loaded.kind).toBe("corrupt");
    if (loaded.kind !== "corrupt") return;
    expect(loaded.reason).toMatch(reason);
    expect(loaded.movedTo).toBe(join(dir, `${LEDGER_FILE}.corrupt-${NOW.getTime()}`));
    expect(await readFile(loaded.movedTo, "utf8")).toBe(content);
    expect(await readdir(dir)).toEqual([`${LEDGER_FILE}.corrupt-${NOW.getTime()}`]);
  });

  it.skipIf(process.platform === "win32")(
    "treats a linked ledger as corrupt rather than reading through it",
    async () => {
      const elsewhere = join(dir, "elsewhere.json");
      await writeFile(elsewhere, JSON.stringify(LEDGER));
      await symlink(elsewhere, path());
      expect((await loadLedger(dir, NOW)).kind).toBe("corrupt");
    },
  );
});
