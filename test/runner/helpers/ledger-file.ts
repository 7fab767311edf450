import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import type { LedgerEntry, LedgerRecord } from "../../../runner/ledger.ts";
import { LEDGER_FILE, openLedger } from "../../../runner/ledger.ts";
import { openLedgerStore } from "../../../runner/ledger-store.ts";

// The ledger as a test reads and writes it from outside the runner: what is on disk, through a
// connection of its own (a test of durability must not ask the runner's own open ledger).

function onDisk<T>(stateDir: string, read: (store: ReturnType<typeof openLedgerStore>) => T): T {
  const store = openLedgerStore(path.join(stateDir, LEDGER_FILE), { readOnly: true });
  try {
    return read(store);
  } finally {
    store.close();
  }
}

/** The record log on disk, in order. */
export function readLedgerRecords(stateDir: string): LedgerRecord[] {
  return onDisk(stateDir, (store) => store.records());
}

/** The record log as the lines ledger.jsonl had (JSON text each), for tests that count or match them. */
export function readLedgerLines(stateDir: string): string[] {
  return readLedgerRecords(stateDir).map((record) => JSON.stringify(record));
}

/** A job's current entry on disk. */
export function readLedgerEntry(stateDir: string, jobId: string): LedgerEntry | undefined {
  return onDisk(stateDir, (store) => store.get(jobId));
}

/** Appends records to the ledger of a stopped runner, as that runner would have written them. */
export async function appendLedgerRecords(stateDir: string, records: readonly LedgerRecord[]): Promise<void> {
  const ledger = await openLedger(stateDir);
  try {
    await ledger.append(records);
  } finally {
    await ledger.close();
  }
}

/** Replaces a stopped runner's ledger with one holding only `records` (an older copy of it, say). */
export async function replaceLedger(stateDir: string, records: readonly LedgerRecord[]): Promise<void> {
  for (const name of await readdir(stateDir))
    if (name.startsWith(LEDGER_FILE)) await rm(path.join(stateDir, name), { force: true });
  await appendLedgerRecords(stateDir, records);
}
