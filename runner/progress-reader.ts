import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Progress } from "../protocol/index.ts";
import { errnoCode, openStudyDb, PROGRESS_FILE, ProgressSchema, STUDY_DB } from "../protocol/index.ts";

/** Optuna's trial states, as the progress fields count them. */
const STATE_FIELDS = {
  COMPLETE: "trials_complete",
  PRUNED: "trials_pruned",
  FAIL: "trials_failed",
  RUNNING: "trials_running",
} as const;

/**
 * Progress from an Optuna study.db, opened read-only so a running study is never disturbed. The last
 * study in the file is the one reported. Throws when the database is busy or not an Optuna study.
 */
export function readStudyProgress(dbPath: string, now: Date = new Date()): Progress {
  const db = openStudyDb(dbPath, { busyTimeoutMs: 1000 });
  try {
    const [study] = db.studies(1, true);
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
    for (const [state, n] of db.trialCounts(study.study_id)) {
      const field = STATE_FIELDS[state as keyof typeof STATE_FIELDS];
      if (field) base[field] = n;
    }
    base.last_trial_at = db.lastTrialAt(study.study_id);
    const directions = db.directions(study.study_id);
    const [direction] = directions;
    if (directions.length !== 1 || direction === undefined) {
      if (directions.length > 1)
        base.message = `${directions.length} objectives: see the Pareto front in study.db`;
      return base;
    }
    const best = db.bestTrial(study.study_id, 0, direction);
    if (!best) return base;
    return {
      ...base,
      best_value: best.value,
      best_values: [best.value],
      best_params: db.trialParams(best.trial_id),
      best_trial: best.number,
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
