import { z } from "zod";
import type { StudyDb } from "../../protocol/index.ts";
import { directionSigns, isFeasible, paretoFront, rankable } from "./pareto-front.ts";

/** Complete trials whose values are read to find the front (values only: about 100 bytes each). */
export const MAX_FRONT_TRIALS = 200_000;
/** Front trials listed in fetch_results; `total` gives the rest's count. */
export const MAX_FRONT_LISTED = 10;
const MAX_PARAMS = 20;

export const ParetoSetSchema = z.object({
  total: z.number().int(),
  order: z.string(),
  /** The study records constraints: the front is of the feasible trials only (Optuna's best_trials). */
  feasible_only: z.boolean(),
  infeasible: z.number().int().optional(),
  trials: z.array(
    z.object({
      number: z.number().int(),
      values: z.array(z.number()),
      params: z.record(z.string(), z.unknown()),
      constraints: z.array(z.number()).optional(),
    }),
  ),
  note: z.string().optional(),
});
export type ParetoSet = z.infer<typeof ParetoSetSchema>;

/**
 * A multi-objective study's Pareto front among its complete trials with finite values: the first
 * MAX_FRONT_LISTED by trial number with values and parameters, and the front's size. Where trials
 * record constraints (Optuna's constraints_func), only feasible trials (every constraint <= 0) rank.
 */
export function paretoSet(db: StudyDb, studyId: number, directions: readonly string[]): ParetoSet {
  const { trials, total } = db.completeTrials(studyId, MAX_FRONT_TRIALS);
  const candidates = rankable(trials, directions.length);
  const constrained = candidates.some((trial) => trial.constraints !== undefined);
  const feasible = constrained ? candidates.filter(isFeasible) : candidates;
  const front = paretoFront(feasible, directionSigns(directions));
  const listed = front.slice(0, MAX_FRONT_LISTED);
  // Parameters only for the listed trials: the front itself needs values alone.
  const withParams = new Map(
    db
      .trials(studyId, { limit: 0, include: listed.map((trial) => trial.number) })
      .trials.map((trial) => [trial.number, trial.params]),
  );
  const notes: string[] = [];
  if (total > trials.length) notes.push(`front of the first ${trials.length} of ${total} complete trials`);
  const unranked = trials.length - candidates.length;
  if (unranked > 0) notes.push(`${unranked} complete trials with an infinite or missing value not ranked`);
  return {
    total: front.length,
    order: "by trial number",
    feasible_only: constrained,
    ...(constrained ? { infeasible: candidates.length - feasible.length } : {}),
    trials: listed.map((trial) => ({
      number: trial.number,
      values: trial.values as number[],
      params: Object.fromEntries(Object.entries(withParams.get(trial.number) ?? {}).slice(0, MAX_PARAMS)),
      ...(trial.constraints ? { constraints: trial.constraints } : {}),
    })),
    ...(notes.length > 0 ? { note: notes.join("; ") } : {}),
  };
}

/** The concise text's lines for a Pareto set. */
export function paretoLines(set: ParetoSet): string[] {
  const basis = set.feasible_only
    ? ` of feasible trials (constraints <= 0; ${set.infeasible ?? 0} infeasible left out)`
    : "";
  const lines = [
    `Pareto front${basis}: ${set.total} trials${set.total > set.trials.length ? `, first ${set.trials.length} ${set.order}` : ` ${set.order}`}${set.note ? ` (${set.note})` : ""}`,
  ];
  for (const trial of set.trials) {
    lines.push(
      `  trial ${trial.number}: values [${trial.values.map((v) => Number(v.toPrecision(6))).join(", ")}] params ${JSON.stringify(trial.params).slice(0, 200)}`,
    );
  }
  return lines;
}
