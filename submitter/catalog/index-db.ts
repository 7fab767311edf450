import { randomBytes } from "node:crypto";
import { rename, rm } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";

/** Bumped whenever the tables change: an index of another version is rebuilt from the folders. */
export const INDEX_SCHEMA_VERSION = "1";

/** Where memory is enough: the CLI's one-job wait and tests. */
export const IN_MEMORY = ":memory:";

// One row per job: what list_jobs shows (row, as JSON) and filters and orders on (columns), and what
// start-up needs to know without reading a job.json: which folders held the job (in_outbox, in_inbox),
// whether its inbox folder can still change (live) and whose results were found complete (settled).
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
  settled TEXT
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
      "DROP TABLE IF EXISTS jobs; DROP TABLE IF EXISTS archives; DROP TABLE IF EXISTS removed; DELETE FROM meta;",
    );
  }
  db.exec(SCHEMA);
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

/**
 * Opens (or makes) the index at `path`. It is a cache of what the folders prove: one that cannot be
 * read is moved aside and rebuilt, with a log line saying so; nothing is lost by that.
 */
export async function openIndexDb(path: string, log: (line: string) => void): Promise<OpenedIndex> {
  if (path === IN_MEMORY) return openAt(path);
  try {
    return openAt(path);
  } catch (error) {
    const aside = `${path}.unreadable-${new Date().toISOString().replace(/[:.]/g, "")}`;
    log(
      `job index ${path} cannot be read (${(error as Error).message}); moved to ${aside} and rebuilt from the queue folders`,
    );
    await rename(path, aside).catch(() => rm(path, { force: true }));
    await Promise.all([rm(`${path}-wal`, { force: true }), rm(`${path}-shm`, { force: true })]);
    return openAt(path);
  }
}
