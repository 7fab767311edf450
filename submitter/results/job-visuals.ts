import { join } from "node:path";
import type { Job } from "../../protocol/index.ts";
import { readRegularFileBytes, writeFileAtomic } from "../../protocol/index.ts";
import type { LoadedImage } from "./png-images.ts";
import { renderReport } from "./report/report-page.ts";
import type { PlotNote, StudyPlot } from "./study-plots.ts";
import { makeStudyPlots } from "./study-plots.ts";
import type { StudySummary } from "./study-summary.ts";

/** Product-made plots attached to one fetch_results call at most (besides the script's own PNGs). */
export const MAX_PLOTS_ATTACHED = 3;
/** Where, inside the fetched copy, the plots and the report go: never in the synced folders. */
export const PLOTS_DIR = "plots";
export const REPORT_FILE = "report.html";
const MAX_README_BYTES = 64 * 1024;

export interface VisualsInput {
  jobId: string;
  state: string;
  job: Job | undefined;
  /** The fetched copy; plots/ and report.html are written here. */
  workDir: string;
  /** The fetched study.db, when the job has one. */
  dbFile: string | undefined;
  study: readonly StudySummary[];
  studyError?: string;
  files: { copied: number; total: number; complete: boolean };
  logTail: readonly string[];
  /** The job's README.md in its job folders, the first found is shown (read-only, bounded). */
  readmeFiles: readonly string[];
  /** Plots to attach: MAX_PLOTS_ATTACHED at most. */
  attach: number;
}

export interface JobVisuals {
  plots: PlotNote[];
  /** The plots to attach, as MCP image content. */
  images: LoadedImage[];
  /** Absolute path of report.html. */
  report: string;
  /** Why there are no plots although there is a study.db. */
  plotError?: string;
}

async function readReadme(files: readonly string[]): Promise<string | undefined> {
  for (const file of files) {
    try {
      return (await readRegularFileBytes(file, MAX_README_BYTES)).toString("utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR")
        return `(README.md not shown: ${(error as Error).message})`;
    }
  }
  return undefined;
}

/**
 * Plots from study.db and report.html for a fetched job. A plot that cannot be drawn is reported,
 * never fatal: the copy and its summary stand without it.
 */
export async function writeJobVisuals(input: VisualsInput): Promise<JobVisuals> {
  let plots: StudyPlot[] = [];
  let plotError: string | undefined;
  if (input.dbFile) {
    try {
      plots = await makeStudyPlots(
        input.dbFile,
        join(input.workDir, PLOTS_DIR),
        PLOTS_DIR,
        Math.min(input.attach, MAX_PLOTS_ATTACHED),
      );
    } catch (error) {
      plotError = `plots not drawn: ${(error as Error).message}`;
    }
  }
  const report = join(input.workDir, REPORT_FILE);
  const html = renderReport({
    jobId: input.jobId,
    state: input.state,
    generatedAt: new Date(),
    job: input.job,
    workDir: input.workDir,
    files: input.files,
    studies: input.study,
    ...(input.studyError || plotError
      ? { studyError: [input.studyError, plotError].filter(Boolean).join("; ") }
      : {}),
    plots,
    logTail: input.logTail,
    ...(await readReadme(input.readmeFiles).then((readme) => (readme === undefined ? {} : { readme }))),
  });
  await writeFileAtomic(report, html);
  return {
    plots: plots.map(({ png: _png, ...note }) => note),
    images: plots
      .filter((plot) => plot.attached)
      .map((plot) => ({
        path: plot.path,
        data: plot.png.toString("base64"),
        mimeType: "image/png" as const,
      })),
    report,
    ...(plotError ? { plotError } : {}),
  };
}

/** The concise text's lines for the plots and the report. */
export function visualsLines(result: { plots: readonly PlotNote[]; report: string }): string[] {
  const lines = result.plots.map(
    (plot) =>
      `${plot.path}: ${plot.kind} plot of study ${plot.study} (${plot.width}x${plot.height}, ${plot.bytes} bytes)${plot.attached ? ", image attached" : ""}`,
  );
  lines.push(`report: ${result.report}`);
  return lines;
}
