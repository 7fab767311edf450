import { join } from "node:path";
import { importLegacyLedger } from "./ledger-import.ts";
import type { LedgerEntry, LedgerRecord } from "./ledger-records.ts";
import { LedgerRecordSchema } from "./ledger-records.ts";
import type { LedgerStore } from "./ledger-store.ts";
import { ledgerError, openLedgerStore } from "./ledger-store.ts";

export { IMPORTED_SUFFIX, LEGACY_LEDGER_FILE } from "./ledger-import.ts";
export { parseLedger } from "./ledger-lines.ts";
export type { LedgerEntry, LedgerRecord } from "./ledger-records.ts";
export { LedgerRecordSchema, StopReasonSchema } from "./ledger-records.ts";

/**
 * The ledger in the state folder: an SQLite database (with its -wal and -shm files) holding the
 * append-only record log and each job's current entry. Nothing of it is held in memory: a job is
 * looked up by id, and callers ask for the few entries they need (live, refused, not yet cleaned).
 */
export const LEDGER_FILE = "ledger.db";

export interface Ledger {
  readonly path: string;
  /** The ledger had no records when opened: a new or lost state folder. */
  readonly fresh: boolean;
  get(jobId: string): LedgerEntry | undefined;
  /** Jobs accepted here and not finished (not foreign): what recovery brings back after a start. */
  live(): LedgerEntry[];
  /** Refused jobs not cleaned yet, each with its final job.json: recovery republishes a lost one. */
  refusedUncleaned(): LedgerEntry[];
  /** Of `names`, the ids the ledger does not know. */
  unknownAmong(names: readonly string[]): string[];
  /** Finished jobs not cleaned yet whose ids are not among `names` (an outbox listing). */
  finishedNotAmong(names: readonly string[]): string[];
  /**
   * Appends records durably (one transaction, committed with an fsync) and applies them; all of them
   * or none. A failure of the machine (a full disk) rejects with its errno code (ENOSPC).
   */
  append(record: LedgerRecord | readonly LedgerRecord[]): Promise<void>;
  close(): Promise<void>;
}

function unreadable(file: string, error: unknown): Error {
  const why = error instanceof Error ? error.message : String(error);
  return new Error(
    `the runner's ledger ${file} cannot be read (${why}). The runner does not start without it: jobs it ` +
      "finished could run again. Restore it (with its -wal file) from a backup; or, to rebuild it from " +
      "inbox/ (jobs finished there are never run again), stop every runner and move the ledger.db* files aside",
    { cause: error },
  );
}

/**
 * Opens the state folder's ledger, creating it when missing and taking in a ledger.jsonl of an earlier
 * runner (ledger-import.ts). A ledger that exists but cannot be read throws: starting on an empty one
 * would forget which jobs ran.
 */
export async function openLedger(
  stateDir: string,
  warn: (message: string) => void = () => {},
  note: (message: string) => void = () => {},
): Promise<Ledger> {
  const file = join(stateDir, LEDGER_FILE);
  let store: LedgerStore;
  let fresh: boolean;
  try {
    store = openLedgerStore(file);
    fresh = store.isEmpty();
  } catch (error) {
    throw unreadable(file, error);
  }
  try {
    const imported = await importLegacyLedger(store, stateDir, warn);
    if (imported) {
      fresh = fresh && !imported.hadContent;
      if (imported.records > 0)
        note(`${imported.records} records of ${imported.keptAs} taken into ${file}; the file is kept`);
    }
  } catch (error) {
    store.close();
    throw new Error(`the runner's earlier ledger in ${stateDir} could not be taken in: ${String(error)}`, {
      cause: error,
    });
  }
  const read = <T>(what: () => T): T => {
    try {
      return what();
    } catch (error) {
      throw ledgerError(error, file, "be read");
    }
  };
  return {
    path: file,
    fresh,
    get: (jobId) => read(() => store.get(jobId)),
    live: () => read(() => store.inState("live")),
    refusedUncleaned: () => read(() => store.inState("finished", true)),
    unknownAmong: (names) => read(() => store.unknownAmong(names)),
    finishedNotAmong: (names) => read(() => store.finishedNotAmong(names)),
    async append(input) {
      const records: readonly LedgerRecord[] = Array.isArray(input) ? input : [input as LedgerRecord];
      const checked = records.map((record) => LedgerRecordSchema.parse(record));
      try {
        store.transaction(() => store.apply(checked));
      } catch (error) {
        throw ledgerError(error, file, "record it");
      }
    },
    async close() {
      store.close();
    },
  };
}
