import type { StudyTrial } from "../../protocol/index.ts";

// Pareto dominance as Optuna defines it: no worse in every objective, better in one. Maximized
// objectives are negated first, so one comparison serves every mix of directions.

/** +1 for a minimized objective, -1 for a maximized one. */
export function directionSigns(directions: readonly string[]): number[] {
  return directions.map((direction) => (direction.toUpperCase() === "MAXIMIZE" ? -1 : 1));
}

export function dominates(a: readonly number[], b: readonly number[]): boolean {
  let better = false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x > y) return false;
    if (x < y) better = true;
  }
  return better;
}

/** Every constraint <= 0 (Optuna's rule); a trial without recorded constraints counts as feasible. */
export function isFeasible(trial: StudyTrial): boolean {
  return trial.constraints === undefined || trial.constraints.every((value) => value <= 0);
}

/** Complete trials whose every objective has a finite value: the only ones a front can rank. */
export function rankable(trials: readonly StudyTrial[], objectives: number): StudyTrial[] {
  return trials.filter(
    (trial) =>
      trial.state === "COMPLETE" &&
      trial.values.length === objectives &&
      trial.values.every((value) => value !== null && Number.isFinite(value)),
  );
}

/**
 * The non-dominated trials among `trials` (all rankable), in trial-number order. Each candidate is
 * compared with the current front only, so the work grows with trials x front size.
 */
export function paretoFront(trials: readonly StudyTrial[], signs: readonly number[]): StudyTrial[] {
  let front: { trial: StudyTrial; point: number[] }[] = [];
  for (const trial of trials) {
    const point = trial.values.map((value, i) => (value as number) * (signs[i] ?? 1));
    if (front.some((other) => dominates(other.point, point))) continue;
    front = front.filter((other) => !dominates(point, other.point));
    front.push({ trial, point });
  }
  return front.map((entry) => entry.trial).sort((a, b) => a.number - b.number);
}
