import { z } from "zod";
import type { StudyDb } from "../../protocol/index.ts";
import { openStudyDb } from "../../protocol/index.ts";

export const ObjectiveBestSchema = z.object({
  objective: z.number().int(),
  direction: z.string(),
  value: z.number().nullable(),
  trial_number: z.number().int().nullable(),
  params: z.record(z.string(), z.unknown()),
});

export const StudySummarySchema = z.object({
  study_name: z.string(),
  directions: z.array(z.string()),
  trials: z.record(z.string(), z.number().int()),
  trials_total: z.number().int(),
  best: z.array(ObjectiveBestSchema),
  /** Multi-objective: size of the Pareto front among complete trials. */
  pareto_front_size: z.number().int().optional(),
  note: z.string().optional(),
});
export type StudySummary = z.infer<typeof StudySummarySchema>;

const MAX_STUDIES = 5;
/** Parameters shown for a best trial. */
const MAX_PARAMS = 50;
/** Beyond this the front is reported as "at least": memory stays bounded whatever the trial count. */
const MAX_FRONT = 5000;

function dominates(a: readonly number[], b: readonly number[]): boolean {
  let better = false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x > y) return false;
    if (x < y) better = true;
  }
  return better;
}

/** Pareto front size over complete trials, streaming rows: memory holds the front, never all trials. */
function paretoFrontSize(
  db: StudyDb,
  studyId: number,
  signs: readonly number[],
): { size: number; capped: boolean } {
  let front: number[][] = [];
  let capped = false;
  let current: { id: number; values: (number | null)[] } | undefined;
  const settle = () => {
    if (!current || current.values.length !== signs.length || current.values.some((v) => v === null)) return;
    const point = current.values.map((v, i) => (v as number) * (signs[i] ?? 1));
    if (front.some((other) => dominates(other, point))) return;
    front = front.filter((other) => !dominates(point, other));
    if (front.length < MAX_FRONT) front.push(point);
    else capped = true;
  };
  for (const row of db.trialValues(studyId)) {
    if (!current || current.id !== row.trial_id) {
      settle();
      current = { id: row.trial_id, values: [] };
    }
    current.values[row.objective] = row.value;
  }
  settle();
  return { size: front.length, capped };
}

/**
 * Summary of an Optuna study.db with SQL only (protocol/study-db.ts): trial counts by state,
 * directions, best value(s) and parameters, Pareto front size when multi-objective. Opened
 * read-only, as a regular file only; fast and small at 20,000 trials.
 */
export function summarizeStudyDb(path: string): StudySummary[] {
  const db = openStudyDb(path);
  try {
    const missing = db.missingTable();
    if (missing) throw new Error(`${path} is not an Optuna study.db (no ${missing} table)`);
    return db.studies(MAX_STUDIES).map((study) => {
      const directions = db.directions(study.study_id);
      const trials: Record<string, number> = {};
      let total = 0;
      for (const [state, n] of db.trialCounts(study.study_id)) {
        trials[state.toLowerCase()] = n;
        total += n;
      }
      const best = directions.map((direction, objective) => {
        const row = db.bestTrial(study.study_id, objective, direction);
        return {
          objective,
          direction: direction.toLowerCase(),
          value: row ? row.value : null,
          trial_number: row ? row.number : null,
          params: row ? db.trialParams(row.trial_id, MAX_PARAMS) : {},
        };
      });
      const summary: StudySummary = {
        study_name: study.study_name,
        directions: directions.map((direction) => direction.toLowerCase()),
        trials,
        trials_total: total,
        best,
      };
      if (directions.length > 1) {
        const signs = directions.map((direction) => (direction.toUpperCase() === "MAXIMIZE" ? -1 : 1));
        const front = paretoFrontSize(db, study.study_id, signs);
        summary.pareto_front_size = front.size;
        summary.note = `multi-objective: best per objective shown separately; ${front.capped ? "at least " : ""}${front.size} trials on the Pareto front`;
      }
      return summary;
    });
  } finally {
    db.close();
  }
}
