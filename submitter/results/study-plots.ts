import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { StudyTrial } from "../../protocol/index.ts";
import { openStudyDb, writeFileAtomic } from "../../protocol/index.ts";
import { directionSigns, isFeasible, paretoFront, rankable } from "./pareto-front.ts";
import { historySvg } from "./plots/history-plot.ts";
import { parallelSvg } from "./plots/parallel-plot.ts";
import { paretoSvg } from "./plots/pareto-plot.ts";
import { renderPlot } from "./plots/plot-render.ts";
import type { PlotStudy } from "./plots/plot-study.ts";
import { sliceSvg } from "./plots/slice-plot.ts";

/**
 * Trials a scatter plot draws at most, spread over the whole study (every k-th by number), beside the
 * best trials; the subtitle says when there were more. Past about a thousand points a 720 px plot is a
 * blot, and each point costs render time and PNG bytes.
 */
export const MAX_PLOT_TRIALS = 500;
/** Complete trials whose values feed best-so-far lines and fronts (values only). */
const MAX_COMPLETE_TRIALS = 200_000;
/** Best trials (best-so-far steps, front members) always drawn and given parameters. */
const MAX_BEST_INCLUDED = 500;
/** Studies of one study.db plotted (an Optuna file may hold several). */
const MAX_PLOTTED_STUDIES = 3;
/** Slice plots per study: one per objective, for the first objectives only. */
const MAX_SLICE_OBJECTIVES = 2;

export const PlotNoteSchema = z.object({
  /** Relative to the fetched copy's work_dir. */
  path: z.string(),
  study: z.string(),
  kind: z.enum(["history", "pareto", "parallel", "slice"]),
  bytes: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
  attached: z.boolean(),
});
export type PlotNote = z.infer<typeof PlotNoteSchema>;

export interface StudyPlot extends PlotNote {
  png: Buffer;
}

type Kind = PlotNote["kind"];

/** The plots a study gets by its number of objectives; undefined SVGs (nothing to draw) are skipped. */
function studySvgs(study: PlotStudy): { kind: Kind; suffix: string; svg: string | undefined }[] {
  const objectives = study.directions.length;
  const main: { kind: Kind; suffix: string; svg: string | undefined }[] =
    objectives === 1
      ? [{ kind: "history", suffix: "history", svg: historySvg(study) }]
      : objectives === 2
        ? [{ kind: "pareto", suffix: "pareto", svg: paretoSvg(study) }]
        : objectives <= 5
          ? [{ kind: "parallel", suffix: "parallel", svg: parallelSvg(study) }]
          : [];
  const slices = Array.from({ length: Math.min(objectives, MAX_SLICE_OBJECTIVES) }, (_, objective) => ({
    kind: "slice" as const,
    suffix: objectives === 1 ? "slice" : `slice-objective-${objective}`,
    svg: sliceSvg(study, objective),
  }));
  return [...main, ...slices];
}

function fileName(index: number, study: string, suffix: string): string {
  const safe = study.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60) || "study";
  return `${index + 1}-${safe}-${suffix}.png`;
}

/** Front members a plot must show whatever the sample. */
function frontNumbers(complete: readonly StudyTrial[], directions: readonly string[]): number[] {
  const front = paretoFront(
    rankable(complete, directions.length).filter(isFeasible),
    directionSigns(directions),
  );
  return front.map((trial) => trial.number);
}

/** The studies of a study.db as plots read them. */
export function readPlotStudies(dbFile: string): PlotStudy[] {
  const db = openStudyDb(dbFile);
  try {
    const missing = db.missingTable();
    if (missing) throw new Error(`not an Optuna study.db (no ${missing} table)`);
    return db.studies(MAX_PLOTTED_STUDIES).map((row) => {
      const directions = db.directions(row.study_id).map((direction) => direction.toLowerCase());
      // One objective needs only the best-so-far corners (SQL finds them); a front needs every trial.
      const single = directions.length === 1;
      const best = single ? db.bestSoFar(row.study_id, directions[0] ?? "minimize") : [];
      const complete = single ? [] : db.completeTrials(row.study_id, MAX_COMPLETE_TRIALS).trials;
      const include = single ? best.map((point) => point.number) : frontNumbers(complete, directions);
      return {
        name: row.study_name,
        directions,
        complete,
        best,
        counts: db.trialCounts(row.study_id),
        ...db.trials(row.study_id, { limit: MAX_PLOT_TRIALS, include: include.slice(0, MAX_BEST_INCLUDED) }),
      };
    });
  } finally {
    db.close();
  }
}

/**
 * Draws every study of `dbFile` (history or Pareto front or parallel coordinates, and slices) and
 * writes the PNGs into `outDir` (named `relDir`/... in the notes). The first `attach` are marked for
 * attaching to the tool result. A study without a complete finite trial gets no plot.
 */
export async function makeStudyPlots(
  dbFile: string,
  outDir: string,
  relDir: string,
  attach: number,
): Promise<StudyPlot[]> {
  const plots: StudyPlot[] = [];
  const studies = readPlotStudies(dbFile);
  for (const [index, study] of studies.entries()) {
    for (const { kind, suffix, svg } of studySvgs(study)) {
      if (!svg) continue;
      const { png, width, height } = await renderPlot(svg);
      const name = fileName(index, study.name, suffix);
      if (plots.length === 0) await mkdir(outDir, { recursive: true });
      await writeFileAtomic(join(outDir, name), png);
      plots.push({
        path: `${relDir}/${name}`,
        study: study.name,
        kind,
        bytes: png.length,
        width,
        height,
        attached: plots.length < attach,
        png,
      });
    }
  }
  return plots;
}
