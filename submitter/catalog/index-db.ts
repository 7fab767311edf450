import { randomBytes } from "node:crypto";
import { rename, rm } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import { COUNTS_SCHEMA } from "./index-counts.ts";

/** Bumped whenever the tables change: an index of another version is rebuilt from the folders. */
export const INDEX_SCHEMA_VERSION = "1";

/** Where memory is enough: the CLI's one-job wait and tests. */
export const IN_MEMORY = ":memory:";

// One row per job: what list_jobs shows (row, as JSON) and filters and orders on (columns), and what
// start-up needs to know without reading a job.json: which folders held the job (in_outbox, in_inbox),
// whether its inbox folder can still change (live), whose results were found complete (settled), and
// the stats of the job.json files it was read from (proof: a listing re-reads a row whose files moved).
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  sort_key TEXT NOT NULL,
  project TEXT,
  created_by TEXT,
  idempotency_key TEXT,
  change INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  row TEXT NOT NULL,
  in_outbox INTEGER NOT NULL,
  in_inbox INTEGER NOT NULL,
  live INTEGER NOT NULL,
  settled TEXT,
  proof TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_newest ON jobs (sort_key, job_id);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, sort_key, job_id);
CREATE INDEX IF NOT EXISTS jobs_project ON jobs (project, sort_key, job_id);
CREATE INDEX IF NOT EXISTS jobs_creator ON jobs (created_by, sort_key, job_id);
CREATE INDEX IF NOT EXISTS jobs_change ON jobs (change);
CREATE INDEX IF NOT EXISTS jobs_live ON jobs (live) WHERE live = 1;
CREATE INDEX IF NOT EXISTS jobs_idempotency ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS archives (name TEXT PRIMARY KEY, job_id TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS archives_job ON archives (job_id, name);
CREATE TABLE IF NOT EXISTS removed (job_id TEXT PRIMARY KEY, change INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS removed_change ON removed (change);
`;

/** One job's row written whole (the store binds the columns in this order). */
export const UPSERT_JOB = `INSERT INTO jobs (job_id, state, sort_key, project, created_by, idempotency_key, change, fingerprint,
             row, in_outbox, in_inbox, live, settled, proof)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (job_id) DO UPDATE SET state = excluded.state, sort_key = excluded.sort_key,
             project = excluded.project, created_by = excluded.created_by,
             idempotency_key = excluded.idempotency_key, change = excluded.change,
             fingerprint = excluded.fingerprint, row = excluded.row, in_outbox = excluded.in_outbox,
             in_inbox = excluded.in_inbox, live = excluded.live, settled = excluded.settled,
             proof = excluded.proof`;

export interface OpenedIndex {
  db: DatabaseSync;
  /** Names the index's life: cursors of an index that was rebuilt are not comparable. */
  instance: string;
  /** The index was made now (absent, of another version, or unreadable). */
  fresh: boolean;
}

function initialise(db: DatabaseSync): OpenedIndex {
  // WAL: readers in the other server processes never wait for the writer. NORMAL: a cache may lose its
  // last commits in a power cut, and the next start-up reads what changed again.
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  db.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;");
  const version = db.prepare("SELECT value FROM meta WHERE key = 'version'").get() as
    | { value: string }
    | undefined;
  if (version && version.value !== INDEX_SCHEMA_VERSION) {
    db.exec(
      "DROP TABLE IF EXISTS jobs; DROP TABLE IF EXISTS archives; DROP TABLE IF EXISTS removed; DROP TABLE IF EXISTS counts; DELETE FROM meta;",
    );
  }
  db.exec(SCHEMA + COUNTS_SCHEMA);
  db.exec("BEGIN IMMEDIATE");
  try {
    const instance = db.prepare("SELECT value FROM meta WHERE key = 'instance'").get() as
      | { value: string }
      | undefined;
    if (instance) {
      db.exec("COMMIT");
      return { db, instance: instance.value, fresh: false };
    }
    const made = randomBytes(6).toString("hex");
    const put = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
    put.run("version", INDEX_SCHEMA_VERSION);
    put.run("instance", made);
    put.run("counter", "0");
    put.run("removed_floor", "0");
    db.exec("COMMIT");
    return { db, instance: made, fresh: true };
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

function openAt(path: string): OpenedIndex {
  const db = new DatabaseSync(path, { timeout: 5000 });
  try {
    // The meta table existing before the schema runs tells a new file from a kept one.
    const existed = db.prepare("SELECT name FROM sqlite_master WHERE name = 'meta'").get() !== undefined;
    const opened = initialise(db);
    return { ...opened, fresh: opened.fresh || !existed };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** SQLite's primary result code of an error thrown by node:sqlite, when it has one. */
function sqliteCode(error: unknown): number | undefined {
  const code = (error as { errcode?: number }).errcode;
  return code === undefined ? undefined : code & 0xff;
}

/** Another process holds the index (SQLITE_BUSY, SQLITE_LOCKED): wait, never take it for damage. */
export function isBusyError(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === 5 || code === 6;
}

/** The file is damaged or no index at all (SQLITE_CORRUPT, SQLITE_NOTADB, or a schema that does not fit). */
export function isDamagedError(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === 11 || code === 26 || code === 1;
}

/** Moves an unreadable index aside (with its -wal and -shm) and says so. */
export async function moveAside(path: string, error: unknown, log: (line: string) => void): Promise<void> {
  const aside = `${path}.unreadable-${new Date().toISOString().replace(/[:.]/g, "")}`;
  log(
    `job index ${path} cannot be read (${(error as Error).message}); moved to ${aside} and rebuilt from the queue folders`,
  );
  await rename(path, aside).catch(() => rm(path, { force: true }));
  await Promise.all([rm(`${path}-wal`, { force: true }), rm(`${path}-shm`, { force: true })]);
}

/** Opening waits this many busy timeouts for another process before it gives up. */
const BUSY_OPEN_ATTEMPTS = 6;

/**
 * Opens (or makes) the index at `path`. It is a cache of what the folders prove: a damaged one is
 * moved aside and rebuilt, with a log line saying so; nothing is lost by that. One that another
 * server process holds is waited for (it is the same index, shared), and any other failure (no
 * permission, a full disk) is reported as it is.
 */
export async function openIndexDb(path: string, log: (line: string) => void): Promise<OpenedIndex> {
  if (path === IN_MEMORY) return openAt(path);
  for (let attempt = 1; ; attempt++) {
    try {
      return openAt(path);
    } catch (error) {
      if (isBusyError(error)) {
        if (attempt < BUSY_OPEN_ATTEMPTS) continue;
        throw new Error(
          `job index ${path} stayed locked by another process for ${BUSY_OPEN_ATTEMPTS * 5} s; check which atomizer-jobs processes use this state folder`,
        );
      }
      if (!isDamagedError(error))
        throw new Error(`job index ${path} cannot be opened: ${(error as Error).message}`);
      await moveAside(path, error, log);
      return openAt(path);
    }
  }
}
