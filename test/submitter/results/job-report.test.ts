import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createServerContext } from "../../../submitter/context.ts";
import { fetchText } from "../../../submitter/mcp/tool-text.ts";
import type { FetchResultsResult } from "../../../submitter/operations/fetch-results.ts";
import { fetchResults } from "../../../submitter/operations/fetch-results.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { collectErrors, hasChromium, launchChromium } from "../../helpers/chromium.ts";
import { optunaStudies } from "../../helpers/optuna-studies.ts";
import { decodePng } from "../../helpers/png-decode.ts";
import { findOptunaPython, requireUnderCi } from "../../helpers/python.ts";
import { acceptJob, finishJob, makeQueue } from "../fixtures/runner-fixture.ts";

const hasPython = requireUnderCi(findOptunaPython() !== undefined, "python3 with optuna");
// ATOMIZER_SCREENSHOTS=1 refreshes the one in docs/; otherwise it goes to the temp folder.
const SCREENSHOT = process.env.ATOMIZER_SCREENSHOTS
  ? new URL("../../../docs/images/report.png", import.meta.url).pathname
  : join(tmpdir(), `atomizer-report.png`);
let base: string;
const fetched: Record<string, FetchResultsResult> = {};

/** A job whose results carry a real study.db (one of optuna_studies.py's cases), fetched. */
async function fetchedJob(study: "two" | "minimize" | "empty", studyDb: string): Promise<FetchResultsResult> {
  const { queue } = await makeQueue().then(async (made) => ({ ...made, base: made.base }));
  const dir = join(base, `study-${study}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "run_optimization.py"), "print('hello')\n");
  await writeFile(
    join(dir, "README.md"),
    `# Mirror ${study}\n\nTrade-off <script>alert(1)</script> & more.\n`,
  );
  const ctx = await createServerContext({ queueRoot: queue.root, allow: [base], withIndex: false });
  try {
    const { job_id: jobId } = await submitJob(
      ctx,
      { study_dir: dir, name: `plots ${study}`, project: "visuals" },
      "atlas",
    );
    await acceptJob(queue, jobId);
    const results = join(base, `results-${study}`);
    await mkdir(results, { recursive: true });
    await copyFile(studyDb, join(results, "study.db"));
    await finishJob(queue, jobId, "completed", {
      resultsDir: results,
      log: "trial 1 done\ntrial 2 done\nall done\n",
    });
    return await fetchResults(ctx, { job_id: jobId }, "atlas");
  } finally {
    await ctx.close();
  }
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "atomizer-report-"));
  if (!hasPython) return;
  const studyDb = await optunaStudies();
  for (const study of ["two", "minimize", "empty"] as const)
    fetched[study] = await fetchedJob(study, studyDb(study));
}, 300_000);

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe.runIf(hasPython)("fetch_results with a study.db", () => {
  test("plots are written into the fetched copy and the first three attached as PNG images", async () => {
    const { summary, images } = fetched.two as FetchResultsResult;
    expect(summary.plots.map((plot) => plot.kind)).toEqual(["pareto", "slice", "slice"]);
    expect(images).toHaveLength(3);
    for (const [index, plot] of summary.plots.entries()) {
      const file = await readFile(join(summary.work_dir, plot.path));
      expect(decodePng(file)).toMatchObject({ width: plot.width, height: plot.height });
      expect(images[index]?.data).toBe(file.toString("base64"));
      expect(images[index]?.mimeType).toBe("image/png");
    }
    expect(summary.plots[0]?.path).toMatch(/^plots\/1-two-pareto\.png$/);
  });

  test("the Pareto set is in structuredContent and the text, bounded, with the total", () => {
    const { summary } = fetched.two as FetchResultsResult;
    const pareto = summary.study[0]?.pareto;
    expect(pareto).toMatchObject({ order: "by trial number", feasible_only: true });
    expect(pareto?.trials.length).toBe(Math.min(10, pareto?.total ?? 0));
    expect(summary.study[0]?.pareto_front_size).toBe(pareto?.total);
    const text = fetchText(summary).join("\n");
    expect(text).toContain(
      `Pareto front of feasible trials (constraints <= 0; ${pareto?.infeasible} infeasible left out): ${pareto?.total} trials`,
    );
    expect(text).toContain(`trial ${pareto?.trials[0]?.number}: values [`);
    expect(text).toContain(`report: ${summary.report}`);
  });

  test("max_images 0 attaches nothing, and a study without complete trials has no plots", async () => {
    expect((fetched.empty as FetchResultsResult).summary.plots).toEqual([]);
    expect((fetched.empty as FetchResultsResult).images).toEqual([]);
    const html = await readFile((fetched.empty as FetchResultsResult).summary.report, "utf8");
    expect(html).toContain("No plots: no trial completed with a finite value.");
  });

  test("report.html is self-contained and escapes the README", async () => {
    const html = await readFile((fetched.two as FetchResultsResult).summary.report, "utf8");
    expect(html).toContain("Trade-off &#60;script&#62;alert(1)&#60;/script&#62; &#38; more.");
    expect(html).not.toContain("<script>alert");
    expect(html).not.toMatch(/(src|href)="(https?:|\/\/)/);
    expect((html.match(/src="data:image\/png;base64,/g) ?? []).length).toBe(3);
  });
});

describe.runIf(hasPython && hasChromium())("report.html in headless Chromium", () => {
  test.each(["two", "minimize"] as const)(
    "%s: loads without console errors, shows its plots and tables",
    async (study) => {
      const { summary } = fetched[study] as FetchResultsResult;
      const chromium = await launchChromium();
      try {
        const page = await chromium.browser.newPage();
        const errors = collectErrors(page);
        await page.goto(pathToFileURL(summary.report).href);
        const widths = await page.$$eval("img", (images) =>
          images.map((image) => (image as unknown as { naturalWidth: number }).naturalWidth),
        );
        expect(widths).toEqual(summary.plots.map((plot) => plot.width));
        const text = await page.textContent("body");
        expect(text).toContain(summary.job_id);
        expect(text).toContain(study === "two" ? "Pareto front:" : "Best trial");
        expect(text).toContain("all done");
        expect(text).toContain("Trade-off <script>alert(1)</script> & more.");
        expect(errors).toEqual([]);
        if (study === "two")
          await page.screenshot({
            path: SCREENSHOT,
            fullPage: true,
            clip: { x: 0, y: 0, width: 1100, height: 1500 },
          });
      } finally {
        await chromium.close();
      }
    },
    60_000,
  );
});
