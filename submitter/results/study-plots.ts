import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { openStudyDb, writeFileAtomic } from "../../protocol/index.ts";
import { historySvg } from "./plots/history-plot.ts";
import { parallelSvg } from "./plots/parallel-plot.ts";
import { paretoSvg } from "./plots/pareto-plot.ts";
import { renderPlot } from "./plots/plot-render.ts";
import type { PlotStudy } from "./plots/plot-study.ts";
import { sliceSvg } from "./plots/slice-plot.ts";

/** Trials a plot shows at most (the first by number); the subtitle says when there were more. */
export const MAX_PLOT_TRIALS = 5000;
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

/** The studies of a study.db as plots read them. */
export function readPlotStudies(dbFile: string): PlotStudy[] {
  const db = openStudyDb(dbFile);
  try {
    const missing = db.missingTable();
    if (missing) throw new Error(`not an Optuna study.db (no ${missing} table)`);
    return db.studies(MAX_PLOTTED_STUDIES).map((row) => ({
      name: row.study_name,
      directions: db.directions(row.study_id).map((direction) => direction.toLowerCase()),
      ...db.trials(row.study_id, MAX_PLOT_TRIALS),
    }));
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
      const { png, width, height } = renderPlot(svg);
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
