// A ledger store in a temp folder, and entries to put in it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test } from "vitest";
import { LEDGER_DB_FILE } from "../../../plugin/notifier/ledger-store.ts";
import type { OpenedStore } from "../../../plugin/notifier/ledger-store-open.ts";
import { openLedgerStore } from "../../../plugin/notifier/ledger-store-open.ts";
import type { LedgerEntry } from "../../../plugin/notifier/notifier-ledger.ts";

export const NOW = new Date("2026-02-10T18:00:00Z");
export const AT = NOW.toISOString();
export const ID = "job-20260210-143022-starspec-m1-wfe-sweep";

/** A job whose message went out and whose hand-off waits: open. */
export const ENTRY: LedgerEntry = {
  job_id: ID,
  status: "completed",
  channel: "#starspec-m1-wfe",
  finished_at: AT,
  recorded_at: AT,
  notified: { state: "sent", at: AT, target: "telegram:12345", attempts: 1, message_id: "7" },
  handoff: { state: "pending", since: AT, sent_at: [AT] },
};

/** The same job once its results were fetched: done. */
export function doneEntry(jobId: string, ackedAt = AT): LedgerEntry {
  return {
    ...ENTRY,
    job_id: jobId,
    handoff: { state: "acknowledged", at: ackedAt, by: "receipt", sent_at: [AT] },
  };
}

/** Opens `<dir>/ledger.sqlite` as the engine does; unreadable rows are collected in `badRows`. */
export async function openStore(dir: string, badRows: string[] = []): Promise<OpenedStore> {
  return openLedgerStore(dir, NOW, (id, reason) => badRows.push(`${id}: ${reason}`));
}

/**
 * Tells whether the store committed since the last call: a second connection's data_version moves
 * exactly when another connection commits.
 */
export function commitWatch(dir: string): { committed(): boolean; close(): void } {
  const db = new DatabaseSync(join(dir, LEDGER_DB_FILE), { readOnly: true });
  const version = () => (db.prepare("PRAGMA data_version").get() as { data_version: number }).data_version;
  let last = version();
  return {
    committed() {
      const now = version();
      const moved = now !== last;
      last = now;
      return moved;
    },
    close: () => db.close(),
  };
}

/** Each test gets a fresh temp folder (`dir`), removed after it. */
export const ledgerTest = test.extend<{ dir: string }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
  dir: async ({}, use) => {
    const dir = await mkdtemp(join(tmpdir(), "atomizer-notifier-ledger-"));
    await use(dir);
    await rm(dir, { recursive: true, force: true });
  },
});
