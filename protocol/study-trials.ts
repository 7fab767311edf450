import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { decodeParam, optunaTimeToIso } from "./study-values.ts";

// The trials of one study as plots and reports need them, read with SQL only, each read bounded by a
// trial count: memory and time stay small whatever the study's size. Two reads: every complete trial's
// values (small rows: what a best-so-far line and a Pareto front must see whole), and a spread sample
// of trials with their parameters (what scatter plots draw and tables list).

type Row = Record<string, unknown>;

/** How a parameter was sampled, from its distribution_json: plots put categoricals on a discrete axis. */
export type ParamDistribution =
  | { kind: "categorical"; choices: unknown[] }
  | { kind: "int" | "float"; low?: number; high?: number; log: boolean };

export interface StudyTrial {
  number: number;
  /** Optuna's state name: COMPLETE, PRUNED, FAIL, RUNNING, WAITING. */
  state: string;
  /** By objective; ±Infinity where Optuna recorded an infinite value, null where none was recorded. */
  values: (number | null)[];
  params: Record<string, unknown>;
  /** The `constraints` attribute Optuna's constraints_func writes (feasible when every one is <= 0). */
  constraints?: number[];
  started_at: string | null;
  completed_at: string | null;
}

/** Which trials readStudyTrials reads: at most `limit` spread evenly by number, and every `include`d one. */
export interface TrialSelection {
  limit: number;
  /** Trial numbers read whatever the spread: the best trials, the Pareto front. */
  include?: readonly number[];
}

export interface StudyTrials {
  /** Trials in the study, counted beyond the bound. */
  total: number;
  /** Every k-th trial by number (k = ceil(total / limit)) and the included ones, by number. */
  trials: StudyTrial[];
  /** Each parameter's distribution, by the first trial that suggested it. */
  distributions: Map<string, ParamDistribution>;
}

function parseDistribution(json: string): ParamDistribution {
  try {
    const parsed = JSON.parse(json) as { name?: unknown; attributes?: Record<string, unknown> };
    const name = String(parsed.name ?? "");
    const attributes = parsed.attributes ?? {};
    if (name === "CategoricalDistribution") {
      return { kind: "categorical", choices: Array.isArray(attributes.choices) ? attributes.choices : [] };
    }
    const low = typeof attributes.low === "number" ? attributes.low : undefined;
    const high = typeof attributes.high === "number" ? attributes.high : undefined;
    return {
      kind: name.startsWith("Int") ? "int" : "float",
      ...(low !== undefined ? { low } : {}),
      ...(high !== undefined ? { high } : {}),
      log: attributes.log === true || name.includes("LogUniform"),
    };
  } catch {
    return { kind: "float", log: false };
  }
}

function parseConstraints(json: unknown): number[] | undefined {
  if (typeof json !== "string") return undefined;
  try {
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) && parsed.every((item) => typeof item === "number") ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Optuna 3 writes an infinite value as NULL with value_type INF_POS/INF_NEG; Optuna 2 as the float. */
function decodeValue(value: unknown, type: unknown): number | null {
  if (type === "INF_POS") return Number.POSITIVE_INFINITY;
  if (type === "INF_NEG") return Number.NEGATIVE_INFINITY;
  return value === null || value === undefined ? null : Number(value);
}

/** Whether trial_values has Optuna 3's value_type column (older files store infinities as floats). */
export function hasValueType(db: DatabaseSync): boolean {
  return (db.prepare("PRAGMA table_info(trial_values)").all() as Row[]).some(
    (row) => row.name === "value_type",
  );
}

/** Optuna keeps constraints in the system attributes; a script may also record them as a user attribute. */
function attributeTables(db: DatabaseSync): string[] {
  const tables = new Set(
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Row[]).map((row) =>
      String(row.name),
    ),
  );
  return ["trial_user_attributes", "trial_system_attributes"].filter((table) => tables.has(table));
}

/** The trials a subquery picks, with their values and constraints (parameters are the caller's choice). */
function readPicked(
  db: DatabaseSync,
  chosen: string,
  args: readonly SQLInputValue[],
): Map<number, StudyTrial> {
  const hasType = hasValueType(db);
  const byId = new Map<number, StudyTrial>();
  for (const row of db
    .prepare(
      `SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials
       WHERE trial_id IN ${chosen} ORDER BY number`,
    )
    .iterate(...args) as Iterable<Row>) {
    const trial: StudyTrial = {
      number: Number(row.number),
      state: String(row.state),
      values: [],
      params: {},
      started_at: optunaTimeToIso(row.datetime_start),
      completed_at: optunaTimeToIso(row.datetime_complete),
    };
    byId.set(Number(row.trial_id), trial);
  }
  const type = hasType ? "value_type" : "NULL AS value_type";
  for (const row of db
    .prepare(`SELECT trial_id, objective, value, ${type} FROM trial_values WHERE trial_id IN ${chosen}`)
    .iterate(...args) as Iterable<Row>) {
    const trial = byId.get(Number(row.trial_id));
    if (trial) trial.values[Number(row.objective)] = decodeValue(row.value, row.value_type);
  }
  for (const trial of byId.values()) trial.values = Array.from(trial.values, (value) => value ?? null);
  for (const table of attributeTables(db)) {
    for (const row of db
      .prepare(
        `SELECT trial_id, value_json FROM ${table} WHERE key = 'constraints' AND trial_id IN ${chosen}`,
      )
      .iterate(...args) as Iterable<Row>) {
      const trial = byId.get(Number(row.trial_id));
      const constraints = parseConstraints(row.value_json);
      if (trial && constraints) trial.constraints = constraints;
    }
  }
  return byId;
}

function countTrials(db: DatabaseSync, studyId: number, where = ""): number {
  return Number(
    (db.prepare(`SELECT COUNT(*) AS n FROM trials WHERE study_id = ? ${where}`).get(studyId) as Row).n,
  );
}

/**
 * Reads a spread sample of a study's trials (every k-th by number, so a plot spans the whole study)
 * and every included one, with values, parameters and constraints.
 */
export function readStudyTrials(db: DatabaseSync, studyId: number, selection: TrialSelection): StudyTrials {
  const total = countTrials(db, studyId);
  const step = Math.max(1, Math.ceil(total / Math.max(1, selection.limit)));
  const spread = selection.limit > 0 ? `number % ${step} = 0` : "0";
  const chosen = `(SELECT trial_id FROM trials WHERE study_id = ? AND (${spread} OR number IN (SELECT value FROM json_each(?))) ORDER BY number LIMIT ?)`;
  const include = selection.include ?? [];
  const args = [studyId, JSON.stringify(include), selection.limit + include.length];
  const byId = readPicked(db, chosen, args);
  const trials = [...byId.values()];
  const distributions = new Map<string, ParamDistribution>();
  for (const row of db
    .prepare(
      `SELECT trial_id, param_name, param_value, distribution_json FROM trial_params
       WHERE trial_id IN ${chosen} ORDER BY param_id`,
    )
    .iterate(...args) as Iterable<Row>) {
    const name = String(row.param_name);
    const json = String(row.distribution_json);
    if (!distributions.has(name)) distributions.set(name, parseDistribution(json));
    const trial = byId.get(Number(row.trial_id));
    if (trial) trial.params[name] = decodeParam(Number(row.param_value), json);
  }
  return { total, trials, distributions };
}

/**
 * The complete trials that set a new best finite value of objective 0, by trial number: the corners of
 * a best-so-far line, found by SQL (a window over every trial) without reading the trials into memory.
 */
export function readBestSoFar(
  db: DatabaseSync,
  studyId: number,
  direction: string,
): { number: number; value: number }[] {
  const maximize = direction.toUpperCase() === "MAXIMIZE";
  const finite = hasValueType(db) ? "AND v.value_type = 'FINITE'" : "";
  const rows = db
    .prepare(
      `SELECT number, value FROM (
         SELECT t.number AS number, v.value AS value,
                ${maximize ? "MAX" : "MIN"}(v.value) OVER (ORDER BY t.number ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
         FROM trials t JOIN trial_values v ON v.trial_id = t.trial_id
         WHERE t.study_id = ? AND t.state = 'COMPLETE' AND v.objective = 0 AND v.value IS NOT NULL ${finite}
       ) WHERE before IS NULL OR value ${maximize ? ">" : "<"} before ORDER BY number`,
    )
    .all(studyId) as Row[];
  return rows.map((row) => ({ number: Number(row.number), value: Number(row.value) }));
}

export interface CompleteTrials {
  /** Complete trials in the study, counted beyond the bound. */
  total: number;
  /** The first `limit` complete trials by number, with values and constraints; no params, no times. */
  trials: StudyTrial[];
}

/**
 * Every complete trial's values and constraints (the first `limit` by number), without parameters or
 * times: one joined read, since a best-so-far line or a front must see all of them.
 */
export function readCompleteTrials(db: DatabaseSync, studyId: number, limit: number): CompleteTrials {
  const type = hasValueType(db) ? "v.value_type" : "NULL";
  const rows = db
    .prepare(
      `SELECT t.trial_id AS trial_id, t.number AS number, v.objective AS objective, v.value AS value, ${type} AS value_type
       FROM (SELECT trial_id, number FROM trials WHERE study_id = ? AND state = 'COMPLETE' ORDER BY number LIMIT ?) t
       LEFT JOIN trial_values v ON v.trial_id = t.trial_id ORDER BY t.number`,
    )
    .iterate(studyId, limit) as Iterable<Row>;
  const byId = new Map<number, StudyTrial>();
  for (const row of rows) {
    const id = Number(row.trial_id);
    let trial = byId.get(id);
    if (!trial) {
      trial = {
        number: Number(row.number),
        state: "COMPLETE",
        values: [],
        params: {},
        started_at: null,
        completed_at: null,
      };
      byId.set(id, trial);
    }
    if (row.objective !== null) trial.values[Number(row.objective)] = decodeValue(row.value, row.value_type);
  }
  for (const trial of byId.values()) trial.values = Array.from(trial.values, (value) => value ?? null);
  for (const table of attributeTables(db)) {
    for (const row of db
      .prepare(
        `SELECT a.trial_id AS trial_id, a.value_json AS value_json FROM ${table} a JOIN trials t ON t.trial_id = a.trial_id
         WHERE a.key = 'constraints' AND t.study_id = ? AND t.state = 'COMPLETE'`,
      )
      .iterate(studyId) as Iterable<Row>) {
      const trial = byId.get(Number(row.trial_id));
      const constraints = parseConstraints(row.value_json);
      if (trial && constraints) trial.constraints = constraints;
    }
  }
  return { total: countTrials(db, studyId, "AND state = 'COMPLETE'"), trials: [...byId.values()] };
}
