import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import type { DirStamp } from "../../protocol/index.ts";
import type { OpenedIndex } from "./index-db.ts";
import type { CatalogRow } from "./job-catalog.ts";

export type RootName = "outbox" | "inbox" | "archive";

/** What a row was last read from: its job.json stats (job-proof.ts) and its archive folders, newest first. */
export interface StoredProof {
  proof: string;
  archives: string[];
}

interface JobRowRecord {
  row: string;
  change: number;
}

function decode(record: JobRowRecord): CatalogRow {
  return { ...(JSON.parse(record.row) as Omit<CatalogRow, "change">), change: record.change };
}

/** The job index's reads (index-store.ts adds the writes): one job's row or facts, sets for start-up, pages. */
export class IndexReads {
  readonly instance: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  constructor(opened: OpenedIndex) {
    this.#db = opened.db;
    this.instance = opened.instance;
  }

  /** Statements are prepared once per text: preparing costs more than most of these queries. */
  protected sql(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  protected meta(key: string): string | undefined {
    const found = this.sql("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    return found?.value;
  }

  row(jobId: string): CatalogRow | undefined {
    const found = this.sql("SELECT row, change FROM jobs WHERE job_id = ?").get(jobId) as
      | JobRowRecord
      | undefined;
    return found ? decode(found) : undefined;
  }

  settled(jobId: string): string | undefined {
    const found = this.sql("SELECT settled FROM jobs WHERE job_id = ?").get(jobId) as
      | { settled: string | null }
      | undefined;
    return found?.settled ?? undefined;
  }

  /** The counter at which another process (or this one) removed the job, when it is remembered. */
  removedAt(jobId: string): number | undefined {
    const found = this.sql("SELECT change FROM removed WHERE job_id = ?").get(jobId) as
      | { change: number }
      | undefined;
    return found?.change;
  }

  /** Ids removed after `counter`, and whether the record reaches back that far. */
  removedSince(counter: number): { ids: string[]; complete: boolean } {
    const rows = this.sql("SELECT job_id FROM removed WHERE change > ? ORDER BY change").all(counter) as {
      job_id: string;
    }[];
    return {
      ids: rows.map((row) => row.job_id),
      complete: Number(this.meta("removed_floor") ?? "0") <= counter,
    };
  }

  /** A job's archive folder names, newest first. */
  archiveNames(jobId: string): string[] {
    const rows = this.sql("SELECT name FROM archives WHERE job_id = ? ORDER BY name DESC").all(jobId) as {
      name: string;
    }[];
    return rows.map((row) => row.name);
  }

  /**
   * The stored proof and archive names of each of `jobIds` (a page's rows), in two queries instead of
   * two per row: every listing checks its page against the files.
   */
  proofsOf(jobIds: readonly string[]): Map<string, StoredProof> {
    const ids = JSON.stringify(jobIds);
    const found = new Map<string, StoredProof>();
    const proofs = this.sql(
      "SELECT job_id, proof FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))",
    ).all(ids) as { job_id: string; proof: string }[];
    for (const { job_id, proof } of proofs) found.set(job_id, { proof, archives: [] });
    const names = this.sql(
      "SELECT job_id, name FROM archives WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY job_id, name DESC",
    ).all(ids) as { job_id: string; name: string }[];
    for (const { job_id, name } of names) found.get(job_id)?.archives.push(name);
    return found;
  }

  /** What the index believes a root holds: job ids for outbox/ and inbox/, folder names for archive/. */
  namesIn(root: RootName): Set<string> {
    const sql =
      root === "archive"
        ? "SELECT name AS id FROM archives"
        : `SELECT job_id AS id FROM jobs WHERE ${root === "outbox" ? "in_outbox" : "in_inbox"} = 1`;
    const names = new Set<string>();
    for (const found of this.sql(sql).iterate() as Iterable<{ id: string }>) names.add(found.id);
    return names;
  }

  liveIds(): string[] {
    const rows = this.sql("SELECT job_id FROM jobs WHERE live = 1").all() as { job_id: string }[];
    return rows.map((row) => row.job_id);
  }

  ids(): string[] {
    const rows = this.sql("SELECT job_id FROM jobs").all() as { job_id: string }[];
    return rows.map((row) => row.job_id);
  }

  idsWithIdempotencyKey(key: string): string[] {
    const rows = this.sql(
      "SELECT job_id FROM jobs WHERE idempotency_key = ? ORDER BY sort_key DESC, job_id DESC",
    ).all(key) as { job_id: string }[];
    return rows.map((row) => row.job_id);
  }

  stamp(root: RootName): DirStamp | undefined {
    const value = this.meta(`stamp.${root}`);
    return value ? (JSON.parse(value) as DirStamp) : undefined;
  }

  /** Rows by a prepared query (index-query.ts builds them). */
  rows(sql: string, params: readonly SQLInputValue[]): CatalogRow[] {
    return (this.sql(sql).all(...params) as unknown as JobRowRecord[]).map(decode);
  }

  count(sql: string, params: readonly SQLInputValue[]): number {
    return (this.sql(sql).get(...params) as { n: number }).n;
  }

  counter(): number {
    return Number(this.meta("counter") ?? "0");
  }
}
