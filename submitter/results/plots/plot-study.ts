import type { ParamDistribution, StudyTrial } from "../../../protocol/index.ts";

/** One study as the plots read it: its directions and its first trials (protocol's readStudyTrials). */
export interface PlotStudy {
  name: string;
  /** "minimize" or "maximize" by objective. */
  directions: string[];
  trials: StudyTrial[];
  /** Trials in the study, also those beyond `trials`. */
  total: number;
  distributions: Map<string, ParamDistribution>;
}

/** "40 trials: 36 complete, 1 pruned, 1 fail, 1 running (first 5000 plotted)". */
export function stateLine(study: PlotStudy): string {
  const counts = new Map<string, number>();
  for (const trial of study.trials) counts.set(trial.state, (counts.get(trial.state) ?? 0) + 1);
  const parts = [...counts].map(([state, n]) => `${n} ${state.toLowerCase()}`);
  const bound = study.total > study.trials.length ? ` (first ${study.trials.length} plotted)` : "";
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
