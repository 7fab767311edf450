import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { summarizeStudyDb } from "../../../submitter/results/study-summary.ts";
import { findOptunaPython, requireUnderCi } from "../../helpers/python.ts";

const run = promisify(execFile);
const python = findOptunaPython();
const hasPython = requireUnderCi(python !== undefined, "python3 with optuna");

// A real Optuna study: a categorical and an int parameter, two objectives (one maximized), pruned and failed trials.
const SCRIPT = `
import sys, optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
single = optuna.create_study(study_name="single", storage="sqlite:///" + sys.argv[1], direction="maximize")
def one(trial):
    shape = trial.suggest_categorical("shape", ["tri", "hex", "square"])
    ribs = trial.suggest_int("ribs", 1, 9)
    if trial.number == 3:
        raise optuna.TrialPruned()
    return {"tri": 1.0, "hex": 5.0, "square": 2.0}[shape] * 10 + ribs
single.optimize(one, n_trials=25, catch=(ValueError,))
multi = optuna.create_study(study_name="multi", storage="sqlite:///" + sys.argv[1], directions=["minimize", "maximize"])
def two(trial):
    x = trial.suggest_float("x", 0, 1)
    if trial.number == 2:
        raise ValueError("solver diverged")
    return x, x * x
multi.optimize(two, n_trials=12, catch=(ValueError,))
`;

let dir: string;
let db: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomizer-study-"));
  db = join(dir, "study.db");
  if (hasPython && python) await run(python, ["-c", SCRIPT, db], { timeout: 120_000 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.runIf(hasPython)("summarizeStudyDb", () => {
  test("counts trials by state and decodes the best trial's categorical parameter", () => {
    const [single] = summarizeStudyDb(db);
    expect(single).toMatchObject({ study_name: "single", directions: ["maximize"], trials_total: 25 });
    expect(single?.trials.pruned).toBe(1);
    expect(single?.trials.complete).toBe(24);
    const best = single?.best[0];
    expect(best?.direction).toBe("maximize");
    expect(best?.params.shape).toBe("hex");
    expect(Number.isInteger(best?.params.ribs)).toBe(true);
    expect(best?.value).toBe(50 + Number(best?.params.ribs));
  });

  test("multi-objective: best per objective and the Pareto front", () => {
    const multi = summarizeStudyDb(db).find((study) => study.study_name === "multi");
    expect(multi?.directions).toEqual(["minimize", "maximize"]);
    expect(multi?.trials).toMatchObject({ complete: 11, fail: 1 });
    expect(multi?.best).toHaveLength(2);
    // Objectives (x, x^2) with min/max conflict: every complete trial is on the front.
    expect(multi?.pareto_front_size).toBe(11);
    expect(multi?.best[0]?.value).toBeLessThanOrEqual(multi?.best[1]?.value ?? 0);
  });
});

test("a file that is not an Optuna study is refused clearly", async () => {
  const { DatabaseSync } = await import("node:sqlite");
  const other = join(dir, "other.db");
  const handle = new DatabaseSync(other);
  handle.exec("CREATE TABLE t (x)");
  handle.close();
  expect(() => summarizeStudyDb(other)).toThrow(/not an Optuna study.db \(no studies table\)/);
});
