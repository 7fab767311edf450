import { createHash } from "node:crypto";
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { DirStamp } from "../../protocol/index.ts";
import type { CountGroup } from "./index-counts.ts";
import { adjustCount } from "./index-counts.ts";
import type { OpenedIndex } from "./index-db.ts";
import { UPSERT_JOB } from "./index-db.ts";
import { IndexReads } from "./index-reads.ts";
import type { CatalogRow } from "./job-catalog.ts";
import { rowFingerprint } from "./row-summary.ts";

/** What the folders said about a job besides its row, stored beside it for start-up. */
export interface JobFacts {
  inOutbox: boolean;
  inInbox: boolean;
  /** Its inbox folder can still change: job.json not final, or results still arriving. */
  live: boolean;
  /** The results manifest's published_at once its files were found complete. */
  settled: string | undefined;
  /** Its archive folders that still hold a job.json. */
  archives: readonly string[];
  /** The job.json files' stats taken before they were read (job-proof.ts). */
  proof: string;
}

export interface PutOutcome {
  /** The row as stored, with its change counter. */
  row: CatalogRow;
  /** This write changed the row (status, progress, presence) and took the next counter value. */
  changed: boolean;
  /** The index had no row for the job before this write. */
  added: boolean;
}

import type { RootName } from "./index-reads.ts";

export type { RootName };

/** Removals remembered for list_jobs' changed_since; older ones make a cursor "incomplete". */
const MAX_REMOVED = 10_000;

/** The id starts with its UTC submission time, which orders correctly even without a readable job.json. */
export function sortKeyOf(row: CatalogRow): string {
  const stamp = /^job-(\d{8})-(\d{6})/.exec(row.job_id);
  return row.created_at ?? (stamp ? `${stamp[1]}T${stamp[2]}` : "");
}

/** The facts as the jobs table stores them, in its column order (in_outbox .. proof). */
function factColumns(facts: JobFacts): SQLInputValue[] {
  return [
    facts.inOutbox ? 1 : 0,
    facts.inInbox ? 1 : 0,
    facts.live ? 1 : 0,
    facts.settled ?? null,
    facts.proof,
  ];
}

function sameNames(stored: readonly string[], found: readonly string[]): boolean {
  if (stored.length !== found.length) return false;
  const wanted = new Set(found);
  return stored.every((name) => wanted.has(name));
}

/**
 * The job index's tables: every job's list row and what start-up needs, written by every server
 * process of the queue (SQLite serialises them) and read on demand, so no process holds history.
 * Each write is a short transaction; a row's change counter moves only when what it shows changed.
 */
export class IndexStore extends IndexReads {
  readonly #db: DatabaseSync;
  #batchDepth = 0;

  constructor(opened: OpenedIndex) {
    super(opened);
    this.#db = opened.db;
  }

  #setMeta(key: string, value: string): void {
    this.sql(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(key, value);
  }

  #transaction<T>(work: () => T): T {
    const [begin, commit, rollback] =
      this.#batchDepth > 0
        ? ["SAVEPOINT one", "RELEASE one", "ROLLBACK TO one; RELEASE one"]
        : ["BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"];
    this.#db.exec(begin);
    try {
      const result = work();
      this.#db.exec(commit);
      return result;
    } catch (error) {
      this.#db.exec(rollback);
      throw error;
    }
  }

  /**
   * Runs `work` (many jobs' writes) in one transaction: a commit per job made a first build of
   * 100,000 jobs spend 13 s committing. Synchronous, so the write lock is held only while writing.
   */
  batch<T>(work: () => T): T {
    if (this.#batchDepth > 0) return work();
    this.#db.exec("BEGIN IMMEDIATE");
    this.#batchDepth++;
    try {
      const result = work();
      this.#batchDepth--;
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#batchDepth--;
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #bump(): number {
    const next = Number(this.meta("counter") ?? "0") + 1;
    this.#setMeta("counter", String(next));
    return next;
  }

  /** Stores the row the files proved; the counter moves only when the row shows something new. */
  put(jobId: string, row: CatalogRow, facts: JobFacts): PutOutcome {
    const fingerprint = createHash("sha256").update(rowFingerprint(row)).digest("base64url").slice(0, 22);
    const { change: _change, ...body } = row;
    const encoded = JSON.stringify(body);
    const same = this.sql(
      "SELECT change FROM jobs WHERE job_id = ? AND row = ? AND in_outbox = ? AND in_inbox = ? AND live = ? AND settled IS ? AND proof = ?",
    ).get(jobId, encoded, ...factColumns(facts)) as { change: number } | undefined;
    // Most reads find what is stored (a heartbeat, another process was first): no write at all.
    if (same && sameNames(this.archiveNames(jobId), facts.archives))
      return { row: { ...row, change: same.change }, changed: false, added: false };
    return this.#transaction(() => {
      const before = this.sql(
        "SELECT fingerprint, change, state, project, created_by FROM jobs WHERE job_id = ?",
      ).get(jobId) as ({ fingerprint: string; change: number } & CountGroup) | undefined;
      const changed = before?.fingerprint !== fingerprint;
      if (before) adjustCount(this.sql.bind(this), before, -1);
      adjustCount(
        this.sql.bind(this),
        { state: row.state, project: row.project ?? null, created_by: row.created_by ?? null },
        1,
      );
      const change = changed ? this.#bump() : (before?.change ?? 0);
      this.sql(UPSERT_JOB).run(
        jobId,
        row.state,
        sortKeyOf(row),
        row.project ?? null,
        row.created_by ?? null,
        row.idempotency_key ?? null,
        change,
        fingerprint,
        encoded,
        ...factColumns(facts),
      );
      this.#setArchives(jobId, facts.archives);
      this.sql("DELETE FROM removed WHERE job_id = ?").run(jobId);
      return { row: { ...row, change }, changed, added: before === undefined };
    });
  }

  #setArchives(jobId: string, names: readonly string[]): void {
    const kept = new Set(names);
    for (const name of this.archiveNames(jobId))
      if (!kept.has(name)) this.sql("DELETE FROM archives WHERE name = ?").run(name);
    const insert = this.sql("INSERT OR IGNORE INTO archives (name, job_id) VALUES (?, ?)");
    for (const name of names) insert.run(name, jobId);
  }

  /** Forgets a job whose every file is gone; returns the removal's counter when it had a row. */
  remove(jobId: string): number | undefined {
    return this.#transaction(() => {
      const had = this.sql("DELETE FROM jobs WHERE job_id = ? RETURNING state, project, created_by").get(
        jobId,
      ) as CountGroup | undefined;
      this.sql("DELETE FROM archives WHERE job_id = ?").run(jobId);
      if (!had) return undefined;
      adjustCount(this.sql.bind(this), had, -1);
      const change = this.#bump();
      this.sql(
        "INSERT INTO removed (job_id, change) VALUES (?, ?) ON CONFLICT (job_id) DO UPDATE SET change = excluded.change",
      ).run(jobId, change);
      this.#pruneRemoved();
      return change;
    });
  }

  #pruneRemoved(): void {
    const count = (this.sql("SELECT count(*) AS n FROM removed").get() as { n: number }).n;
    if (count <= MAX_REMOVED) return;
    const cut = this.sql("SELECT change FROM removed ORDER BY change ASC LIMIT 1 OFFSET ?").get(
      count - MAX_REMOVED - 1,
    ) as { change: number };
    this.sql("DELETE FROM removed WHERE change <= ?").run(cut.change);
    this.#setMeta("removed_floor", String(cut.change));
  }

  /** Records an archive folder seen on disk (before its job is read again). */
  addArchiveName(name: string, jobId: string): void {
    this.sql("INSERT OR IGNORE INTO archives (name, job_id) VALUES (?, ?)").run(name, jobId);
  }

  setStamp(root: RootName, stamp: DirStamp | undefined): void {
    this.#setMeta(`stamp.${root}`, stamp ? JSON.stringify(stamp) : "");
  }

  close(): void {
    this.#db.close();
  }
}
