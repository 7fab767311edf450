import type { DatabaseSync, StatementSync } from "node:sqlite";
import { describeZodError } from "../../protocol/index.ts";
import type { EntrySummary } from "./notification-policy.ts";
import type { LedgerEntry } from "./notifier-ledger.ts";
import { LedgerEntrySchema } from "./notifier-ledger.ts";

export const LEDGER_DB_FILE = "ledger.sqlite";
/** Bumped when the tables change; a store of another version is kept aside as unreadable. */
export const STORE_VERSION = "1";

/** Meta keys: set once the ledger's first scan has ended; the catalog cursor rescans go on from; inbox/'s last listed stamp. */
export const FIRST_SCAN_KEY = "first_scan_done";
export const CURSOR_KEY = "catalog_cursor";
export const INBOX_STAMP_KEY = "inbox_stamp";

// One row per job the notifier recorded: the entry itself (JSON, checked by LedgerEntrySchema on the
// way in and out) and the few facts rescans and resends select on, so a done entry is never parsed
// to learn that it is done. `live`: jobs at the runner whose outcome is still open (re-read on rescans).
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
  job_id TEXT PRIMARY KEY,
  entry TEXT NOT NULL,
  sending INTEGER NOT NULL,
  pending INTEGER NOT NULL,
  last_sent_ms INTEGER,
  acked_at TEXT
);
CREATE INDEX IF NOT EXISTS entries_sending ON entries (job_id) WHERE sending = 1;
CREATE INDEX IF NOT EXISTS entries_pending ON entries (job_id, last_sent_ms) WHERE pending = 1;
CREATE TABLE IF NOT EXISTS live (job_id TEXT PRIMARY KEY) WITHOUT ROWID;
`;

/** The change counter of the job catalog the notifier has read every change up to. */
export interface CatalogCursor {
  instance: string;
  counter: number;
}

/** Everything one commit writes, in one transaction. */
export interface StoreWrite {
  /** null: the entry is removed (pruned). */
  entries: ReadonlyMap<string, LedgerEntry | null>;
  /** true: the job is live (re-read on rescans); false: no longer. */
  live: ReadonlyMap<string, boolean>;
  meta: ReadonlyMap<string, string>;
}

type Row = { job_id: string; entry: string; sending: number; pending: number; acked_at: string | null };

/** The ledger's entries on disk (node:sqlite, WAL): read on demand, never held whole. Only the lock holder opens it. */
export class LedgerStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #onBadRow: (id: string, reason: string) => void;
  readonly #get: StatementSync;
  readonly #put: StatementSync;
  readonly #del: StatementSync;

  constructor(path: string, db: DatabaseSync, onBadRow: (id: string, reason: string) => void) {
    this.path = path;
    this.#db = db;
    this.#onBadRow = onBadRow;
    this.#get = db.prepare("SELECT * FROM entries WHERE job_id = ?");
    this.#put = db.prepare(
      "INSERT OR REPLACE INTO entries (job_id, entry, sending, pending, last_sent_ms, acked_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.#del = db.prepare("DELETE FROM entries WHERE job_id = ?");
  }

  meta(key: string): string | undefined {
    const row = this.#db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  /** A job's entry; undefined when there is none or its row is unreadable (said through onBadRow). */
  get(id: string): LedgerEntry | undefined {
    const row = this.#get.get(id) as Row | undefined;
    return row ? this.#parse(row) : undefined;
  }

  /** Whether the ledger has a row for the job, readable or not. */
  has(id: string): boolean {
    return this.#get.get(id) !== undefined;
  }

  /** Summaries of the entries the ledger has among `ids` (an unreadable row counts as done: left alone). */
  summaries(ids: readonly string[]): Map<string, EntrySummary> {
    const rows = this.#db
      .prepare(
        "SELECT job_id, sending, pending, acked_at FROM entries WHERE job_id IN (SELECT value FROM json_each(?))",
      )
      .all(JSON.stringify(ids)) as Omit<Row, "entry">[];
    return new Map(
      rows.map((row) => [
        row.job_id,
        {
          open: row.sending === 1 || row.pending === 1,
          ...(row.acked_at ? { acknowledgedAt: row.acked_at } : {}),
        },
      ]),
    );
  }

  /** Ids of entries still open (a message being sent or a hand-off pending), in id order. */
  openIds(): string[] {
    const rows = this.#db
      .prepare(
        "SELECT job_id FROM entries WHERE sending = 1 UNION SELECT job_id FROM entries WHERE pending = 1",
      )
      .all() as { job_id: string }[];
    return rows.map((row) => row.job_id).sort();
  }

  /** Ids of pending hand-offs never sent or last sent at or before `sentBy` (ms). */
  pendingSentBy(sentBy: number): string[] {
    const rows = this.#db
      .prepare(
        "SELECT job_id FROM entries WHERE pending = 1 AND (last_sent_ms IS NULL OR last_sent_ms <= ?) ORDER BY job_id",
      )
      .all(sentBy) as { job_id: string }[];
    return rows.map((row) => row.job_id);
  }

  liveIds(): string[] {
    return (this.#db.prepare("SELECT job_id FROM live ORDER BY job_id").all() as { job_id: string }[]).map(
      (row) => row.job_id,
    );
  }

  /** Every entry, for a person or a test reading the whole ledger (the engine never does). */
  *all(): Generator<LedgerEntry> {
    for (const row of this.#db.prepare("SELECT * FROM entries ORDER BY job_id").iterate() as Iterable<Row>) {
      const entry = this.#parse(row);
      if (entry) yield entry;
    }
  }

  /** Writes one commit's changes in one transaction: all of them or none. */
  write(change: StoreWrite): void {
    const db = this.#db;
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const [id, entry] of change.entries) {
        if (entry === null) this.#del.run(id);
        else this.#putEntry(LedgerEntrySchema.parse(entry));
      }
      const addLive = db.prepare("INSERT OR IGNORE INTO live (job_id) VALUES (?)");
      const dropLive = db.prepare("DELETE FROM live WHERE job_id = ?");
      for (const [id, live] of change.live) (live ? addLive : dropLive).run(id);
      const putMeta = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
      for (const [key, value] of change.meta) putMeta.run(key, value);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Adds entries the store does not have yet (an import: a row already here wins). */
  importMissing(entries: Iterable<LedgerEntry>): number {
    const db = this.#db;
    let added = 0;
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const entry of entries) {
        if (this.#get.get(entry.job_id) !== undefined) continue;
        this.#putEntry(LedgerEntrySchema.parse(entry));
        added++;
      }
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
    return added;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #putEntry(entry: LedgerEntry): void {
    const { handoff, notified } = entry;
    const last = handoff.state === "pending" ? handoff.sent_at.at(-1) : undefined;
    this.#put.run(
      entry.job_id,
      JSON.stringify(entry),
      notified.state === "sending" ? 1 : 0,
      handoff.state === "pending" ? 1 : 0,
      last === undefined ? null : Date.parse(last),
      handoff.state === "acknowledged" ? handoff.at : null,
    );
  }

  #parse(row: Row): LedgerEntry | undefined {
    let reason: string;
    try {
      const parsed = LedgerEntrySchema.safeParse(JSON.parse(row.entry));
      if (parsed.success && parsed.data.job_id === row.job_id) return parsed.data;
      reason = parsed.success ? `it names job ${parsed.data.job_id}` : describeZodError(parsed.error);
    } catch (error) {
      reason = (error as Error).message;
    }
    this.#onBadRow(row.job_id, reason);
    return undefined;
  }
}
