// examples/mirror-wfe-study run by a real Python with Optuna: its results, progress.json and stored study
// agree; ATOMIZER_RESULTS_DIR is honoured; a missing optuna or matplotlib is handled as documented.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleDir, exists, STUDY_NAME } from "./helpers/mirror-wfe-example.ts";

const python = process.env.ATOMIZER_PYTHON?.trim() || "/usr/bin/python3";
const isCI = process.env.CI === "true";
const PROGRESS_KEYS = [
  "best_params",
  "best_trial",
  "best_value",
  "message",
  "trials_complete",
  "trials_failed",
  "trials_planned",
  "trials_pruned",
  "updated_at",
];
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const RUN_TIMEOUT_MS = 20_000;

interface Progress {
  trials_planned: number;
  trials_complete: number;
  trials_pruned: number;
  trials_failed: number;
  best_value: number | null;
  best_params: Record<string, number | string> | null;
  best_trial: number | null;
  message: string;
  updated_at: string;
}

/** Returns why the configured python cannot run the study, or undefined when it can. */
async function probePython(): Promise<string | undefined> {
  const probe = await execa(python, ["-c", "import optuna"], { reject: false, timeout: RUN_TIMEOUT_MS });
  if (probe.exitCode === 0) {
    return undefined;
  }
  const detail = String(probe.stderr || probe.shortMessage || "")
    .trim()
    .split("\n")
    .at(-1);
  return `${python} cannot import optuna (${detail}); set ATOMIZER_PYTHON or install python3-optuna`;
}

const pythonProblem = await probePython();
const skipPython = pythonProblem !== undefined && !isCI;
if (skipPython) {
  console.warn(`[mirror-wfe-study-run.test] skipping the Python run tests: ${pythonProblem}`);
}
const skipNote = skipPython ? ` (skipped: ${pythonProblem})` : "";

function requirePython(): void {
  if (pythonProblem !== undefined) {
    throw new Error(`CI=true but ${pythonProblem}`);
  }
}

/** process.env without the variables the study reads, so the host environment cannot leak in. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== "ATOMIZER_RESULTS_DIR" && key !== "ATOMIZER_JOB_ID") {
      env[key] = value;
    }
  }
  return env;
}

async function runStudy(studyDir: string, args: string[], extraEnv: Record<string, string> = {}) {
  return execa(python, [path.join(studyDir, "run_optimization.py"), ...args], {
    cwd: path.dirname(studyDir),
    env: { ...baseEnv(), ...extraEnv },
    extendEnv: false,
    reject: false,
    timeout: RUN_TIMEOUT_MS,
  });
}

async function readProgress(resultsDir: string): Promise<Progress> {
  return JSON.parse(await readFile(path.join(resultsDir, "progress.json"), "utf8")) as Progress;
}

let root = "";

async function copyExample(name: string): Promise<string> {
  const target = path.join(root, name);
  await cp(exampleDir, target, {
    recursive: true,
    filter: (src) => !/[\\/](3_results|__pycache__)$/.test(src),
  });
  return target;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "atomizer-mirror-wfe-"));
});

afterAll(async () => {
  if (root) {
    await rm(root, { recursive: true, force: true });
  }
});

describe("examples/mirror-wfe-study", () => {
  it.skipIf(skipPython)(
    `runs 8 trials into 3_results and agrees with the stored Optuna study${skipNote}`,
    { timeout: RUN_TIMEOUT_MS * 2 },
    async () => {
      requirePython();
      const studyDir = await copyExample("default-results");
      const run = await runStudy(studyDir, ["--trials", "8", "--start"]);
      expect(run.exitCode, `stderr:\n${run.stderr}`).toBe(0);
      expect(run.stderr).toContain("[mirror-wfe] starting");

      const resultsDir = path.join(studyDir, "3_results");
      expect(await exists(path.join(resultsDir, "study.db"))).toBe(true);
      expect(await exists(path.join(resultsDir, ".progress.json.tmp"))).toBe(false);

      const csvLines = (await readFile(path.join(resultsDir, "trials.csv"), "utf8")).trimEnd().split(/\r?\n/);
      expect(csvLines).toHaveLength(9);
      expect(csvLines[0]).toBe(
        "number,state,value,rib_thickness_mm,back_plate_mm,pocket_depth_ratio,rib_pattern,datetime_complete",
      );
      for (const row of csvLines.slice(1)) {
        expect(row.split(",")[1]).toBe("COMPLETE");
      }

      const png = await readFile(path.join(resultsDir, "convergence.png"));
      expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);

      const progress = await readProgress(resultsDir);
      expect(Object.keys(progress).sort()).toEqual(PROGRESS_KEYS);
      expect(progress.trials_planned).toBe(8);
      expect(progress.trials_complete).toBe(8);
      expect(progress.trials_pruned).toBe(0);
      expect(progress.trials_failed).toBe(0);
      expect(typeof progress.best_value).toBe("number");
      expect(progress.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

      const trialLines = run.stdout.split(/\r?\n/).filter((l) => l.startsWith("trial "));
      expect(trialLines).toHaveLength(8);
      const bestLine = run.stdout.split(/\r?\n/).find((l) => l.startsWith("BEST value="));
      expect(bestLine).toBeDefined();
      const bestMatch = /^BEST value=(\S+) params=(.*)$/.exec(bestLine ?? "");
      expect(Number(bestMatch?.[1])).toBe(progress.best_value);
      expect(JSON.parse(bestMatch?.[2] ?? "null")).toEqual(progress.best_params);

      const storage = `sqlite:///${path.join(resultsDir, "study.db").split(path.sep).join("/")}`;
      const reload = await execa(
        python,
        [
          "-c",
          [
            "import json, sys, optuna",
            "optuna.logging.set_verbosity(optuna.logging.WARNING)",
            "s = optuna.load_study(study_name=sys.argv[1], storage=sys.argv[2])",
            "print(json.dumps({'value': s.best_value, 'params': s.best_params,",
            "                  'number': s.best_trial.number, 'n': len(s.trials)}))",
          ].join("\n"),
          STUDY_NAME,
          storage,
        ],
        { timeout: RUN_TIMEOUT_MS },
      );
      const stored = JSON.parse(reload.stdout) as {
        value: number;
        params: Record<string, unknown>;
        number: number;
        n: number;
      };
      expect(stored.n).toBe(8);
      expect(progress.best_value).toBe(stored.value);
      expect(progress.best_params).toEqual(stored.params);
      expect(progress.best_trial).toBe(stored.number);
    },
  );

  it.skipIf(skipPython)(
    `writes into ATOMIZER_RESULTS_DIR when it is set${skipNote}`,
    { timeout: RUN_TIMEOUT_MS },
    async () => {
      requirePython();
      const studyDir = await copyExample("env-results");
      const resultsDir = path.join(root, "elsewhere", "results");
      const run = await runStudy(studyDir, ["--trials", "3"], {
        ATOMIZER_RESULTS_DIR: resultsDir,
        ATOMIZER_JOB_ID: "job-test-42",
      });
      expect(run.exitCode, `stderr:\n${run.stderr}`).toBe(0);
      expect(run.stdout).toContain("job_id=job-test-42");
      for (const file of ["study.db", "trials.csv", "convergence.png", "progress.json"]) {
        expect(await exists(path.join(resultsDir, file)), file).toBe(true);
      }
      expect(await exists(path.join(studyDir, "3_results"))).toBe(false);
      const progress = await readProgress(resultsDir);
      expect(progress.trials_complete).toBe(3);
      expect(progress.trials_planned).toBe(3);
    },
  );

  it.skipIf(skipPython)(
    `imports its modules from its own folder under PYTHONSAFEPATH and leaves no __pycache__${skipNote}`,
    { timeout: RUN_TIMEOUT_MS },
    async () => {
      requirePython();
      const studyDir = await copyExample("safe-path");
      // PYTHONSAFEPATH (Python 3.11+) keeps the script's folder off sys.path; a workstation may set it.
      // An empty PYTHONDONTWRITEBYTECODE counts as unset, so only the script can keep __pycache__ away.
      const run = await runStudy(studyDir, ["--trials", "2"], {
        PYTHONSAFEPATH: "1",
        PYTHONDONTWRITEBYTECODE: "",
      });
      expect(run.exitCode, `stderr:\n${run.stderr}`).toBe(0);
      expect((await readProgress(path.join(studyDir, "3_results"))).trials_complete).toBe(2);
      expect(await exists(path.join(studyDir, "__pycache__"))).toBe(false);
    },
  );

  it.skipIf(skipPython)(
    `exits 3 with an install hint when optuna cannot be imported${skipNote}`,
    { timeout: RUN_TIMEOUT_MS },
    async () => {
      requirePython();
      const studyDir = await copyExample("no-optuna");
      const shim = path.join(root, "shim-no-optuna", "optuna");
      await mkdir(shim, { recursive: true });
      await writeFile(path.join(shim, "__init__.py"), 'raise ImportError("simulated: no optuna")\n');
      const run = await runStudy(studyDir, ["--trials", "2"], { PYTHONPATH: path.dirname(shim) });
      expect(run.exitCode).toBe(3);
      expect(run.stderr).toContain("optuna is missing");
      expect(run.stderr).toContain("pip install optuna");
      expect(await exists(path.join(studyDir, "3_results"))).toBe(false);
    },
  );

  it.skipIf(skipPython)(
    `still runs without matplotlib and skips only the PNG${skipNote}`,
    { timeout: RUN_TIMEOUT_MS },
    async () => {
      requirePython();
      const studyDir = await copyExample("no-matplotlib");
      const shim = path.join(root, "shim-no-matplotlib", "matplotlib");
      await mkdir(shim, { recursive: true });
      await writeFile(path.join(shim, "__init__.py"), 'raise ImportError("simulated: no matplotlib")\n');
      const run = await runStudy(studyDir, ["--trials", "2"], { PYTHONPATH: path.dirname(shim) });
      expect(run.exitCode, `stderr:\n${run.stderr}`).toBe(0);
      expect(run.stderr).toContain("matplotlib is missing");
      const resultsDir = path.join(studyDir, "3_results");
      expect(await exists(path.join(resultsDir, "convergence.png"))).toBe(false);
      expect(await exists(path.join(resultsDir, "trials.csv"))).toBe(true);
      expect((await readProgress(resultsDir)).trials_complete).toBe(2);
    },
  );
});
