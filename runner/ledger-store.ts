import { DatabaseSync } from "node:sqlite";
import type { EntryState, LedgerEntry, LedgerRecord } from "./ledger-records.ts";
import { applyRecord, entryState } from "./ledger-records.ts";

/**
 * The ledger's tables. `records` is the record log, appended and never rewritten (what ledger.jsonl
 * was); `entries` is each job's current entry, written in the same transaction as the records that
 * change it, so finished history is looked up by id instead of held in memory. Queries over an outbox
 * listing (100,000 ids) read only the narrow indexes: job_id's own, and (state, refused, job_id).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY, job_id TEXT NOT NULL, record TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS entries (
  job_id TEXT NOT NULL UNIQUE, state TEXT NOT NULL, refused INTEGER NOT NULL, entry TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS entries_by_state ON entries (state, refused, job_id);
CREATE TABLE IF NOT EXISTS imports (identity TEXT PRIMARY KEY, file TEXT NOT NULL, at TEXT NOT NULL, records INTEGER NOT NULL) STRICT;
`;
const SCHEMA_VERSION = 1;

/** SQLite's primary result codes that say something about the machine rather than the ledger. */
const MACHINE_CODES: Record<number, string> = { 10: "EIO", 13: "ENOSPC" };

/**
 * An SQLite error as the runner's other file errors read: a full disk is ENOSPC (machineCondition
 * retries the step later), the message says which file and what was being done.
 */
export function ledgerError(error: unknown, file: string, doing: string): Error {
  const sqlite = error as { errcode?: unknown; errstr?: unknown; message?: unknown };
  const code = typeof sqlite.errcode === "number" ? MACHINE_CODES[sqlite.errcode & 0xff] : undefined;
  const what = typeof sqlite.errstr === "string" ? sqlite.errstr : String(sqlite.message ?? error);
  const wrapped = new Error(`the ledger ${file} could not ${doing}: ${what}${code ? ` (${code})` : ""}`, {
    cause: error,
  });
  if (code) Object.assign(wrapped, { code });
  return wrapped;
}

export type StateCounts = Record<EntryState, number> & { records: number };

export interface LedgerStore {
  get(jobId: string): LedgerEntry | undefined;
  /** Records appended to the log and applied to their entries. Call inside transaction(). */
  apply(records: readonly LedgerRecord[]): void;
  /** Writes an entry no record made (a job named only by a damaged line of an imported file). */
  putEntry(entry: LedgerEntry): void;
  /** Runs `work` in one transaction, committed durably (WAL, synchronous=FULL) or rolled back. */
  transaction<T>(work: () => T): T;
  /** The same for work that awaits (an import streaming a file); nothing else may use the ledger meanwhile. */
  transactionAsync<T>(work: () => Promise<T>): Promise<T>;
  /** Entries in one state, read on demand. */
  inState(state: EntryState, refusedOnly?: boolean): LedgerEntry[];
  /** Of `names`, those no entry has (one query, whatever the number of jobs). */
  unknownAmong(names: readonly string[]): string[];
  /** Finished, not cleaned jobs whose ids are not among `names`. */
  finishedNotAmong(names: readonly string[]): string[];
  /** No record and no entry: a new (or lost) state folder. */
  isEmpty(): boolean;
  counts(): StateCounts;
  /** SQLite's own consistency check of every page: "ok", or what is damaged. Reads the whole file. */
  check(): string[];
  /** The record log in order, for inspection (doctor, tests): never read by the running runner. */
  records(): LedgerRecord[];
  /** True when a file of this identity was imported before (a crash came before it was renamed). */
  imported(identity: string): boolean;
  noteImport(identity: string, file: string, records: number): void;
  /** Folds the write-ahead log into the database file and empties it (after a large import). */
  checkpoint(): void;
  close(): void;
}

const SELECT_STATE = "SELECT entry FROM entries WHERE state = ?";

/**
 * Opens (and with `create`, sets up) the ledger database. Throws for a file that is not a ledger or
 * cannot be read: the caller refuses to start rather than forget jobs.
 */
export function openLedgerStore(file: string, options: { readOnly?: boolean } = {}): LedgerStore {
  const readOnly = options.readOnly === true;
  const db = new DatabaseSync(file, { readOnly, timeout: 5000 });
  try {
    if (!readOnly) {
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
      const version = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
      if (version > SCHEMA_VERSION)
        throw new Error(`it was written by a newer runner (ledger schema ${version}); update this runner`);
      db.exec(SCHEMA);
      if (version < SCHEMA_VERSION) db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    }
    return storeOf(db);
  } catch (error) {
    db.close();
    throw error;
  }
}

function parseEntry(row: Record<string, unknown> | undefined): LedgerEntry | undefined {
  return row === undefined ? undefined : (JSON.parse(String(row.entry)) as LedgerEntry);
}

function storeOf(db: DatabaseSync): LedgerStore {
  const getEntry = db.prepare("SELECT entry FROM entries WHERE job_id = ?");
  const insertRecord = db.prepare("INSERT INTO records (job_id, record) VALUES (?, ?)");
  const upsert = db.prepare(
    `INSERT INTO entries (job_id, state, refused, entry) VALUES (?, ?, ?, ?)
     ON CONFLICT (job_id) DO UPDATE SET state = excluded.state, refused = excluded.refused, entry = excluded.entry`,
  );
  const byState = db.prepare(SELECT_STATE);
  const byStateRefused = db.prepare(`${SELECT_STATE} AND refused = 1`);
  const unknown = db.prepare(
    "SELECT value FROM json_each(?) WHERE value NOT IN (SELECT job_id FROM entries)",
  );
  const finishedNot = db.prepare(
    "SELECT job_id FROM entries WHERE state = 'finished' AND job_id NOT IN (SELECT value FROM json_each(?))",
  );
  const put = (entry: LedgerEntry): void => {
    upsert.run(entry.job_id, entryState(entry), entry.refused ? 1 : 0, JSON.stringify(entry));
  };
  const get = (jobId: string) => parseEntry(getEntry.get(jobId));
  // A failed COMMIT (a full disk) may leave the transaction open: nothing of it counts.
  const rollback = () => {
    if (db.isTransaction) db.exec("ROLLBACK");
  };
  return {
    get,
    apply(records) {
      for (const record of records) {
        insertRecord.run(record.job_id, JSON.stringify(record));
        const entry = applyRecord(get(record.job_id), record);
        if (entry) put(entry);
      }
    },
    putEntry: put,
    transaction(work) {
      db.exec("BEGIN IMMEDIATE");
      try {
        const result = work();
        db.exec("COMMIT");
        return result;
      } catch (error) {
        rollback();
        throw error;
      }
    },
    async transactionAsync(work) {
      db.exec("BEGIN IMMEDIATE");
      try {
        const result = await work();
        db.exec("COMMIT");
        return result;
      } catch (error) {
        rollback();
        throw error;
      }
    },
    inState: (state, refusedOnly = false) =>
      (refusedOnly ? byStateRefused : byState).all(state).map((row) => parseEntry(row) as LedgerEntry),
    unknownAmong: (names) => unknown.all(JSON.stringify(names)).map((row) => String(row.value)),
    finishedNotAmong: (names) => finishedNot.all(JSON.stringify(names)).map((row) => String(row.job_id)),
    isEmpty: () =>
      db.prepare("SELECT EXISTS (SELECT 1 FROM records) OR EXISTS (SELECT 1 FROM entries) AS used").get()
        ?.used === 0,
    counts() {
      const counts: StateCounts = { live: 0, foreign: 0, finished: 0, cleaned: 0, records: 0 };
      for (const row of db.prepare("SELECT state, count(*) AS n FROM entries GROUP BY state").all())
        counts[String(row.state) as EntryState] = Number(row.n);
      // Records are never deleted, so the last sequence number is their count (no scan of the log).
      counts.records = Number(db.prepare("SELECT max(seq) AS n FROM records").get()?.n ?? 0);
      return counts;
    },
    check: () =>
      db
        .prepare("PRAGMA quick_check")
        .all()
        .map((row) => String(Object.values(row)[0])),
    records: () =>
      db
        .prepare("SELECT record FROM records ORDER BY seq")
        .all()
        .map((row) => JSON.parse(String(row.record)) as LedgerRecord),
    imported: (identity) =>
      db.prepare("SELECT 1 AS yes FROM imports WHERE identity = ?").get(identity) !== undefined,
    noteImport(identity, file, records) {
      db.prepare("INSERT OR REPLACE INTO imports (identity, file, at, records) VALUES (?, ?, ?, ?)").run(
        identity,
        file,
        new Date().toISOString(),
        records,
      );
    },
    checkpoint() {
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    },
    close() {
      if (db.isOpen) db.close();
    },
  };
}
