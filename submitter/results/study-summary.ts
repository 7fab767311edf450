import { z } from "zod";
import { openStudyDb } from "../../protocol/index.ts";
import { ParetoSetSchema, paretoSet } from "./pareto-set.ts";

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
  /** Multi-objective: the front's first trials with values and parameters. */
  pareto: ParetoSetSchema.optional(),
  note: z.string().optional(),
});
export type StudySummary = z.infer<typeof StudySummarySchema>;

const MAX_STUDIES = 5;
/** Parameters shown for a best trial. */
const MAX_PARAMS = 50;
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
        const pareto = paretoSet(db, study.study_id, directions);
        summary.pareto_front_size = pareto.total;
        summary.pareto = pareto;
        summary.note = `multi-objective: best per objective shown separately; ${pareto.total} trials on the Pareto front${pareto.feasible_only ? " of feasible trials" : ""}`;
      }
      return summary;
    });
  } finally {
    db.close();
  }
}
