import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Progress } from "../protocol/index.ts";
import { errnoCode, PROGRESS_FILE, ProgressSchema, STUDY_DB } from "../protocol/index.ts";

type Row = Record<string, unknown>;

/** Optuna stores naive local times ("2026-02-10 14:30:22.123456"); the script ran on this host, so read them as local. */
export function optunaTimeToIso(value: unknown): string | null {
  if (typeof value !== "string" || value.length === 0) return null;
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d{1,3})?/.exec(value);
  if (!match) return null;
  const date = new Date(`${match[1]}T${match[2]}${match[3] ?? ""}`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** A parameter as the study saw it: a categorical is stored as an index into its distribution's choices. */
export function decodeParam(value: number, distributionJson: string): unknown {
  try {
    const distribution = JSON.parse(distributionJson) as {
      name?: string;
      attributes?: { choices?: unknown[] };
    };
    if (distribution.name === "CategoricalDistribution") {
      const choices = distribution.attributes?.choices;
      return Array.isArray(choices) && Number.isInteger(value) && value >= 0 && value < choices.length
        ? choices[value]
        : value;
    }
    if (
      distribution.name === "IntDistribution" ||
      distribution.name === "IntUniformDistribution" ||
      distribution.name === "IntLogUniformDistribution"
    ) {
      return Math.round(value);
    }
  } catch {
    // an unreadable distribution: report the raw number
  }
  return value;
}

function hasColumn(db: DatabaseSync, table: string, column: string): boolean {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as Row[]).some((row) => row.name === column);
}

/**
 * Progress from an Optuna study.db, opened read-only so a running study is never disturbed. The last
 * study in the file is the one reported. Throws when the database is busy or not an Optuna study.
 */
export function readStudyProgress(dbPath: string, now: Date = new Date()): Progress {
  const db = new DatabaseSync(dbPath, { readOnly: true, timeout: 1000 });
  try {
    const study = db.prepare("SELECT study_id FROM studies ORDER BY study_id DESC LIMIT 1").get() as
      | Row
      | undefined;
    const base: Progress = {
      source: "study.db",
      trials_planned: null,
      trials_complete: 0,
      trials_pruned: 0,
      trials_failed: 0,
      trials_running: 0,
      best_value: null,
      best_values: null,
      best_params: null,
      best_trial: null,
      last_trial_at: null,
      updated_at: now.toISOString(),
    };
    if (!study) return { ...base, message: "no study in study.db yet" };
    const studyId = Number(study.study_id);
    for (const row of db
      .prepare("SELECT state, COUNT(*) AS n FROM trials WHERE study_id = ? GROUP BY state")
      .all(studyId) as Row[]) {
      const n = Number(row.n);
      if (row.state === "COMPLETE") base.trials_complete = n;
      else if (row.state === "PRUNED") base.trials_pruned = n;
      else if (row.state === "FAIL") base.trials_failed = n;
      else if (row.state === "RUNNING") base.trials_running = n;
    }
    const last = db
      .prepare(
        "SELECT MAX(datetime_complete) AS t FROM trials WHERE study_id = ? AND datetime_complete IS NOT NULL",
      )
      .get(studyId) as Row | undefined;
    base.last_trial_at = optunaTimeToIso(last?.t);
    const directions = db
      .prepare("SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective")
      .all(studyId) as Row[];
    if (directions.length !== 1) {
      if (directions.length > 1)
        base.message = `${directions.length} objectives: see the Pareto front in study.db`;
      return base;
    }
    const order = directions[0]?.direction === "MAXIMIZE" ? "DESC" : "ASC";
    const finite = hasColumn(db, "trial_values", "value_type") ? "AND v.value_type = 'FINITE'" : "";
    const best = db
      .prepare(
        `SELECT t.trial_id AS id, t.number AS number, v.value AS value FROM trials t JOIN trial_values v ON v.trial_id = t.trial_id AND v.objective = 0
         WHERE t.study_id = ? AND t.state = 'COMPLETE' AND v.value IS NOT NULL ${finite} ORDER BY v.value ${order}, t.number ASC LIMIT 1`,
      )
      .get(studyId) as Row | undefined;
    if (!best) return base;
    const params: Record<string, unknown> = {};
    for (const row of db
      .prepare(
        "SELECT param_name, param_value, distribution_json FROM trial_params WHERE trial_id = ? ORDER BY param_id",
      )
      .all(best.id as number) as Row[]) {
      params[String(row.param_name)] = decodeParam(Number(row.param_value), String(row.distribution_json));
    }
    return {
      ...base,
      best_value: Number(best.value),
      best_values: [Number(best.value)],
      best_params: params,
      best_trial: Number(best.number),
    };
  } finally {
    db.close();
  }
}

/** A script's own 3_results/progress.json, or undefined when absent or not valid progress. */
export async function readProgressFile(resultsDir: string): Promise<Progress | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(resultsDir, PROGRESS_FILE), "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = ProgressSchema.safeParse(JSON.parse(text));
    return parsed.success ? { ...parsed.data, source: "progress.json" } : undefined;
  } catch {
    // caught mid-write by a script that does not write atomically: the next beat will read it
    return undefined;
  }
}

/**
 * The job's progress: the script's progress.json when it writes one, else a snapshot of study.db. Returns
 * `previous` when neither can be read now (study.db locked mid-commit, not created yet).
 */
export async function readProgress(
  resultsDir: string,
  previous: Progress | undefined,
  now: Date = new Date(),
): Promise<Progress | undefined> {
  const fromFile = await readProgressFile(resultsDir);
  if (fromFile) return { ...fromFile, updated_at: fromFile.updated_at ?? now.toISOString() };
  const dbPath = path.join(resultsDir, STUDY_DB);
  try {
    await stat(dbPath);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return previous;
  }
  try {
    return readStudyProgress(dbPath, now);
  } catch {
    return previous;
  }
}
