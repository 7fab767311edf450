import type { DatabaseSync } from "node:sqlite";
import { decodeParam, optunaTimeToIso } from "./study-values.ts";

// Every trial of one study as plots and reports need it, read with SQL only. Bounded by a trial count
// (the first N by trial number): memory stays small whatever the study's size.

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

export interface StudyTrials {
  /** Trials in the study, counted beyond the bound. */
  total: number;
  /** The first `limit` trials by number. */
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

/** Reads the first `limit` trials of a study (by number), with values, parameters and constraints. */
export function readStudyTrials(db: DatabaseSync, studyId: number, limit: number): StudyTrials {
  const hasType = (db.prepare("PRAGMA table_info(trial_values)").all() as Row[]).some(
    (row) => row.name === "value_type",
  );
  const total = Number(
    (db.prepare("SELECT COUNT(*) AS n FROM trials WHERE study_id = ?").get(studyId) as Row).n,
  );
  const chosen = "(SELECT trial_id FROM trials WHERE study_id = ? ORDER BY number LIMIT ?)";
  const byId = new Map<number, StudyTrial>();
  const trials: StudyTrial[] = [];
  for (const row of db
    .prepare(
      `SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials
       WHERE trial_id IN ${chosen} ORDER BY number`,
    )
    .iterate(studyId, limit) as Iterable<Row>) {
    const trial: StudyTrial = {
      number: Number(row.number),
      state: String(row.state),
      values: [],
      params: {},
      started_at: optunaTimeToIso(row.datetime_start),
      completed_at: optunaTimeToIso(row.datetime_complete),
    };
    byId.set(Number(row.trial_id), trial);
    trials.push(trial);
  }
  const type = hasType ? "value_type" : "NULL AS value_type";
  for (const row of db
    .prepare(`SELECT trial_id, objective, value, ${type} FROM trial_values WHERE trial_id IN ${chosen}`)
    .iterate(studyId, limit) as Iterable<Row>) {
    const trial = byId.get(Number(row.trial_id));
    if (trial) trial.values[Number(row.objective)] = decodeValue(row.value, row.value_type);
  }
  for (const trial of trials) trial.values = Array.from(trial.values, (value) => value ?? null);
  const distributions = new Map<string, ParamDistribution>();
  for (const row of db
    .prepare(
      `SELECT trial_id, param_name, param_value, distribution_json FROM trial_params
       WHERE trial_id IN ${chosen} ORDER BY param_id`,
    )
    .iterate(studyId, limit) as Iterable<Row>) {
    const name = String(row.param_name);
    const json = String(row.distribution_json);
    if (!distributions.has(name)) distributions.set(name, parseDistribution(json));
    const trial = byId.get(Number(row.trial_id));
    if (trial) trial.params[name] = decodeParam(Number(row.param_value), json);
  }
  // Optuna keeps constraints in the system attributes; a script may also record them as a user attribute.
  const tables = new Set(
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Row[]).map((row) =>
      String(row.name),
    ),
  );
  for (const table of ["trial_user_attributes", "trial_system_attributes"]) {
    if (!tables.has(table)) continue;
    for (const row of db
      .prepare(
        `SELECT trial_id, value_json FROM ${table} WHERE key = 'constraints' AND trial_id IN ${chosen}`,
      )
      .iterate(studyId, limit) as Iterable<Row>) {
      const trial = byId.get(Number(row.trial_id));
      const constraints = parseConstraints(row.value_json);
      if (trial && constraints) trial.constraints = constraints;
    }
  }
  return { total, trials, distributions };
}
