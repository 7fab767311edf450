import type { ParamDistribution, StudyTrial } from "../../../protocol/index.ts";

/** One study as the plots read it (protocol's study-trials.ts). */
export interface PlotStudy {
  name: string;
  /** "minimize" or "maximize" by objective. */
  directions: string[];
  /** What scatter plots draw: a spread sample of every state, with parameters, and the best trials. */
  trials: StudyTrial[];
  /** Several objectives: every complete trial's values (no parameters), what fronts are of. */
  complete: StudyTrial[];
  /** One objective: the trials that set a new best, over the whole study (the best-so-far line). */
  best: { number: number; value: number }[];
  /** Trials in the study, also those beyond `trials`. */
  total: number;
  /** Trials by Optuna state, counted over the whole study. */
  counts: Map<string, number>;
  distributions: Map<string, ParamDistribution>;
}

/** "20000 trials: 19000 complete, 600 pruned, 400 fail (1006 plotted)". */
export function stateLine(study: PlotStudy): string {
  const parts = [...study.counts].map(([state, n]) => `${n} ${state.toLowerCase()}`);
  const bound = study.total > study.trials.length ? ` (${study.trials.length} plotted)` : "";
  return `${study.total} trials: ${parts.join(", ")}${bound}`;
}

/** Complete trials with a value for `objective`, split into finite and infinite ones. */
export function objectiveValues(
  study: PlotStudy,
  objective: number,
): { finite: { trial: StudyTrial; value: number }[]; infinite: number } {
  const finite: { trial: StudyTrial; value: number }[] = [];
  let infinite = 0;
  for (const trial of study.trials) {
    if (trial.state !== "COMPLETE") continue;
    const value = trial.values[objective];
    if (value === null || value === undefined) continue;
    if (Number.isFinite(value)) finite.push({ trial, value });
    else infinite++;
  }
  return { finite, infinite };
}

export function objectiveTitle(study: PlotStudy, objective: number): string {
  const direction = study.directions[objective] ?? "minimize";
  return study.directions.length > 1 ? `objective ${objective} (${direction})` : `objective (${direction})`;
}
