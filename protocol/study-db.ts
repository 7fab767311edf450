import { lstatSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { describeFileKind } from "./safe-open.ts";
import type { CompleteTrials, StudyTrials, TrialSelection } from "./study-trials.ts";
import { hasValueType, readBestSoFar, readCompleteTrials, readStudyTrials } from "./study-trials.ts";
import { decodeParam, optunaTimeToIso } from "./study-values.ts";

export { decodeParam, optunaTimeToIso };

// An Optuna study.db read with SQL only (no Python, no Optuna): the runner's progress and the submitting
// side's results summary ask the same questions of the same tables, so the queries live here once.
// Every read is read-only: a running study is never disturbed.

type Row = Record<string, unknown>;

/** The tables every question below reads; a file without one of them is no Optuna study. */
export const OPTUNA_TABLES = [
  "studies",
  "trials",
  "trial_values",
  "trial_params",
  "study_directions",
] as const;

export interface StudyRow {
  study_id: number;
  study_name: string;
}

export interface BestTrial {
  trial_id: number;
  number: number;
  value: number;
}

export interface StudyDbOptions {
  /** How long a query waits for a writer's lock before SQLITE_BUSY (default: no wait). */
  busyTimeoutMs?: number;
}

/** dev:ino:birth of a regular file; a link, FIFO or device is refused with what it is. */
function regularFileIdentity(path: string): string {
  const stats = lstatSync(path, { bigint: true });
  if (!stats.isFile()) {
    throw new Error(
      `${path} is ${describeFileKind(stats)}, not a regular file; a study.db is only opened as a regular file`,
    );
  }
  return `${stats.dev}:${stats.ino}:${stats.birthtimeNs}`;
}

/** An open study.db; `close()` when done (a try/finally). */
export interface StudyDb {
  /** The first missing Optuna table, or undefined when every one is there. */
  missingTable(): string | undefined;
  /** Studies by id, oldest first, or newest first with `newestFirst`; at most `limit`. */
  studies(limit: number, newestFirst?: boolean): StudyRow[];
  /** Directions by objective as Optuna writes them ("MINIMIZE", "MAXIMIZE"). */
  directions(studyId: number): string[];
  /** Trial counts by Optuna's state name ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"). */
  trialCounts(studyId: number): Map<string, number>;
  /** Latest datetime_complete of any trial, as ISO UTC. */
  lastTrialAt(studyId: number): string | null;
  /** The complete trial with the best finite value of one objective (lowest trial number on ties). */
  bestTrial(studyId: number, objective: number, direction: string): BestTrial | undefined;
  /** A trial's parameters, decoded, in the order the study suggested them; at most `limit` (-1: all). */
  trialParams(trialId: number, limit?: number): Record<string, unknown>;
  /** Complete trials' objective values, trial by trial (null where a value is not finite). */
  trialValues(studyId: number): Iterable<{ trial_id: number; objective: number; value: number | null }>;
  /** A spread sample of trials (every state) and the included ones, with values, parameters and constraints. */
  trials(studyId: number, selection: TrialSelection): StudyTrials;
  /** The first `limit` complete trials' values and constraints, without parameters. */
  completeTrials(studyId: number, limit: number): CompleteTrials;
  /** The trials that set a new best of objective 0 (direction "MINIMIZE"/"MAXIMIZE", any case), by number. */
  bestSoFar(studyId: number, direction: string): { number: number; value: number }[];
  close(): void;
}

/**
 * Opens a study.db read-only. SQLite opens a path as it finds it, following links and blocking on a
 * FIFO, and offers no handle to check: so the path must be a regular file before the open and still
 * the same file after it. Throws when it is not, or when SQLite cannot open it.
 */
export function openStudyDb(path: string, options: StudyDbOptions = {}): StudyDb {
  const before = regularFileIdentity(path);
  const db = new DatabaseSync(path, {
    readOnly: true,
    ...(options.busyTimeoutMs === undefined ? {} : { timeout: options.busyTimeoutMs }),
  });
  try {
    if (regularFileIdentity(path) !== before)
      throw new Error(`${path} was replaced while it was being opened`);
  } catch (error) {
    db.close();
    throw error;
  }
  return studyDbOver(db);
}

function studyDbOver(db: DatabaseSync): StudyDb {
  let finite: string | undefined;
  // Optuna 3 marks infinite values (value NULL) in value_type; older files have no such column.
  const finiteFilter = (): string => {
    finite ??= hasValueType(db) ? "AND v.value_type = 'FINITE'" : "";
    return finite;
  };
  return {
    missingTable() {
      const rows = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Row[];
      const tables = new Set(rows.map((row) => String(row.name)));
      return OPTUNA_TABLES.find((table) => !tables.has(table));
    },
    studies(limit, newestFirst = false) {
      const order = newestFirst ? "DESC" : "ASC";
      return (
        db
          .prepare(`SELECT study_id, study_name FROM studies ORDER BY study_id ${order} LIMIT ?`)
          .all(limit) as Row[]
      ).map((row) => ({ study_id: Number(row.study_id), study_name: String(row.study_name) }));
    },
    directions(studyId) {
      return (
        db
          .prepare("SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective")
          .all(studyId) as Row[]
      ).map((row) => String(row.direction));
    },
    trialCounts(studyId) {
      const counts = new Map<string, number>();
      for (const row of db
        .prepare("SELECT state, COUNT(*) AS n FROM trials WHERE study_id = ? GROUP BY state")
        .all(studyId) as Row[]) {
        counts.set(String(row.state), Number(row.n));
      }
      return counts;
    },
    lastTrialAt(studyId) {
      const row = db
        .prepare(
          "SELECT MAX(datetime_complete) AS t FROM trials WHERE study_id = ? AND datetime_complete IS NOT NULL",
        )
        .get(studyId) as Row | undefined;
      return optunaTimeToIso(row?.t);
    },
    bestTrial(studyId, objective, direction) {
      const order = direction.toUpperCase() === "MAXIMIZE" ? "DESC" : "ASC";
      const row = db
        .prepare(
          `SELECT t.trial_id AS trial_id, t.number AS number, v.value AS value
           FROM trials t JOIN trial_values v ON v.trial_id = t.trial_id
           WHERE t.study_id = ? AND t.state = 'COMPLETE' AND v.objective = ? AND v.value IS NOT NULL ${finiteFilter()}
           ORDER BY v.value ${order}, t.number ASC LIMIT 1`,
        )
        .get(studyId, objective) as Row | undefined;
      return row
        ? { trial_id: Number(row.trial_id), number: Number(row.number), value: Number(row.value) }
        : undefined;
    },
    trialParams(trialId, limit = -1) {
      const params: Record<string, unknown> = {};
      const rows = db
        .prepare(
          "SELECT param_name, param_value, distribution_json FROM trial_params WHERE trial_id = ? ORDER BY param_id LIMIT ?",
        )
        .all(trialId, limit) as Row[];
      for (const row of rows) {
        params[String(row.param_name)] = decodeParam(Number(row.param_value), String(row.distribution_json));
      }
      return params;
    },
    *trialValues(studyId) {
      const statement = db.prepare(
        `SELECT v.trial_id AS trial_id, v.objective AS objective, v.value AS value
         FROM trial_values v JOIN trials t ON t.trial_id = v.trial_id
         WHERE t.study_id = ? AND t.state = 'COMPLETE'
         ORDER BY v.trial_id, v.objective`,
      );
      for (const row of statement.iterate(studyId) as Iterable<Row>) {
        yield {
          trial_id: Number(row.trial_id),
          objective: Number(row.objective),
          value: row.value === null ? null : Number(row.value),
        };
      }
    },
    trials(studyId, selection) {
      return readStudyTrials(db, studyId, selection);
    },
    completeTrials(studyId, limit) {
      return readCompleteTrials(db, studyId, limit);
    },
    bestSoFar(studyId, direction) {
      return readBestSoFar(db, studyId, direction);
    },
    close() {
      db.close();
    },
  };
}
