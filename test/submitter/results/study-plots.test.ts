import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openStudyDb } from "../../../protocol/index.ts";
import { paretoSet } from "../../../submitter/results/pareto-set.ts";
import { historySvg } from "../../../submitter/results/plots/history-plot.ts";
import { paretoSvg } from "../../../submitter/results/plots/pareto-plot.ts";
import { MAX_PLOT_BYTES } from "../../../submitter/results/plots/plot-render.ts";
import { makeStudyPlots, readPlotStudies } from "../../../submitter/results/study-plots.ts";
import type { StudyCase } from "../../helpers/optuna-studies.ts";
import { optunaStudies } from "../../helpers/optuna-studies.ts";
import { decodePng } from "../../helpers/png-decode.ts";
import { findOptunaPython, requireUnderCi } from "../../helpers/python.ts";

const hasPython = requireUnderCi(findOptunaPython() !== undefined, "python3 with optuna");
let studyDb: (name: StudyCase) => string;
let out: string;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), "atomizer-plots-"));
  if (hasPython) studyDb = await optunaStudies();
}, 200_000);

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe.runIf(hasPython)("plots drawn from real Optuna studies", () => {
  test.each([
    { study: "minimize", kinds: ["history", "slice"], width: 720, height: 420 },
    { study: "maximize", kinds: ["history", "slice"], width: 720, height: 420 },
    { study: "two", kinds: ["pareto", "slice", "slice"], width: 720, height: 460 },
    { study: "three", kinds: ["parallel", "slice", "slice"], width: 720, height: 440 },
    // Five objectives' crossing lines are rendered narrower to stay within the size bound.
    { study: "five", kinds: ["parallel", "slice", "slice"], width: 527, height: 322 },
    { study: "running", kinds: ["history", "slice"], width: 720, height: 420 },
  ] as const)(
    "$study: $kinds, PNGs that decode, bounded in size",
    async ({ study, kinds, width, height }) => {
      const dir = join(out, study);
      const plots = await makeStudyPlots(studyDb(study), dir, "plots", 2);
      expect(plots.map((plot) => plot.kind)).toEqual(kinds);
      expect(plots.map((plot) => plot.attached)).toEqual(kinds.map((_, index) => index < 2));
      for (const plot of plots) {
        const file = await readFile(join(dir, plot.path.slice("plots/".length)));
        expect(file.equals(plot.png)).toBe(true);
        const decoded = decodePng(file);
        expect({ width: decoded.width, height: decoded.height }).toEqual({
          width: plot.width,
          height: plot.height,
        });
        expect(plot.bytes).toBeLessThanOrEqual(MAX_PLOT_BYTES);
      }
      expect({ width: plots[0]?.width, height: plots[0]?.height }).toEqual({ width, height });
    },
  );

  test("a study with no completed trial gets no plot, and no file is written", async () => {
    const dir = join(out, "empty");
    expect(await makeStudyPlots(studyDb("empty"), dir, "plots", 3)).toEqual([]);
    await expect(readFile(join(dir, "1-empty-history.png"))).rejects.toThrow(/ENOENT/);
  });

  test("trials as plots read them: pruned, failed, running, infinite values and categoricals", () => {
    const [minimize] = readPlotStudies(studyDb("minimize"));
    expect(minimize?.directions).toEqual(["minimize"]);
    const states = new Map(minimize?.trials.map((trial) => [trial.number, trial.state]));
    expect([states.get(3), states.get(5), states.get(0)]).toEqual(["PRUNED", "FAIL", "COMPLETE"]);
    expect(minimize?.trials[7]?.values).toEqual([Number.POSITIVE_INFINITY]);
    expect(minimize?.distributions.get("shape")).toEqual({
      kind: "categorical",
      choices: ["tri", "hex", "square"],
    });
    expect(["tri", "hex", "square"]).toContain(minimize?.trials[0]?.params.shape);
    const [maximize] = readPlotStudies(studyDb("maximize"));
    expect(maximize?.trials[7]?.values).toEqual([Number.NEGATIVE_INFINITY]);
    const [running] = readPlotStudies(studyDb("running"));
    expect(running?.trials.at(-1)?.state).toBe("RUNNING");
  });
});

describe.runIf(hasPython)("the Pareto set", () => {
  const setOf = (name: StudyCase) => {
    const db = openStudyDb(studyDb(name));
    try {
      const [study] = db.studies(1);
      const id = study?.study_id ?? 0;
      return { set: paretoSet(db, id, db.directions(id)), trials: db.trials(id, { limit: 1000 }).trials };
    } finally {
      db.close();
    }
  };

  test.each(["two", "three", "five"] as const)(
    "%s: feasible front trials only, none dominated, bounded",
    (name) => {
      const { set, trials } = setOf(name);
      expect(set.feasible_only).toBe(true);
      expect(set.infeasible).toBeGreaterThan(0);
      expect(set.trials.length).toBe(Math.min(10, set.total));
      const numbers = set.trials.map((trial) => trial.number);
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
      for (const trial of set.trials) {
        expect(trial.constraints?.every((value) => value <= 0)).toBe(true);
        expect(Object.keys(trial.params).sort()).toEqual(["material", "x", "y"]);
      }
      // No feasible complete trial dominates a listed one (maximized objectives negated).
      const signs = name === "two" ? [1, -1] : name === "three" ? [1, -1, 1] : [1, -1, 1, 1, -1];
      const feasible = trials.filter(
        (trial) => trial.state === "COMPLETE" && trial.constraints?.every((value) => value <= 0),
      );
      for (const listed of set.trials) {
        const dominated = feasible.some((other) => {
          const a = other.values.map((v, i) => (v as number) * (signs[i] ?? 1));
          const b = listed.values.map((v, i) => v * (signs[i] ?? 1));
          return a.every((v, i) => v <= (b[i] as number)) && a.some((v, i) => v < (b[i] as number));
        });
        expect(dominated).toBe(false);
      }
    },
  );
});

function frontNumbers(file: string): number[] {
  const db = openStudyDb(file);
  try {
    const id = db.studies(1)[0]?.study_id ?? 0;
    return paretoSet(db, id, db.directions(id)).trials.map((trial) => trial.number);
  } finally {
    db.close();
  }
}

describe.runIf(hasPython)("plots of a sampled study", () => {
  test("the best-so-far line and the front are of every complete trial, not of the drawn sample", () => {
    for (const name of ["minimize", "two"] as const) {
      const [study] = readPlotStudies(studyDb(name));
      if (!study) throw new Error(`no study in ${name}`);
      // A sample without the best trials, which a spread sample could miss: the front red points and the
      // best line must still come from the complete trials.
      const best =
        name === "minimize" ? study.best.map((point) => point.number) : frontNumbers(studyDb(name));
      expect(best.length).toBeGreaterThan(0);
      const sampled = { ...study, trials: study.trials.filter((trial) => !best.includes(trial.number)) };
      const svg = name === "minimize" ? historySvg(sampled) : paretoSvg(sampled);
      const full = name === "minimize" ? historySvg(study) : paretoSvg(study);
      const subtitle = (text: string | undefined) =>
        /; (best [^<]+|\d+ on the front[^<]*)</.exec(text ?? "")?.[1];
      expect(subtitle(svg)).toBeDefined();
      expect(subtitle(svg)).toBe(subtitle(full));
      expect(svg).toContain(`(${sampled.trials.length} plotted)`);
    }
  });
});
