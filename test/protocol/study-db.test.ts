import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { decodeParam, openStudyDb, optunaTimeToIso } from "../../protocol/index.ts";
import { mkfifo, POSIX } from "../helpers/hostile-fs.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("study-db");

const dist = (name: string, attributes: Record<string, unknown>) => JSON.stringify({ name, attributes });

describe("decodeParam", () => {
  it.each([
    {
      kind: "categorical",
      value: 2,
      json: dist("CategoricalDistribution", { choices: ["hex", "tri", "square"] }),
      want: "square",
    },
    // Optuna allows None among the choices: the decoded value is null, not the index.
    {
      kind: "categorical null choice",
      value: 0,
      json: dist("CategoricalDistribution", { choices: [null, 1.5] }),
      want: null,
    },
    {
      kind: "categorical numeric choice",
      value: 1,
      json: dist("CategoricalDistribution", { choices: [null, 1.5] }),
      want: 1.5,
    },
    {
      kind: "categorical index out of range",
      value: 3,
      json: dist("CategoricalDistribution", { choices: ["a"] }),
      want: 3,
    },
    {
      kind: "categorical negative index",
      value: -1,
      json: dist("CategoricalDistribution", { choices: ["a"] }),
      want: -1,
    },
    {
      kind: "categorical fractional index",
      value: 0.5,
      json: dist("CategoricalDistribution", { choices: ["a", "b"] }),
      want: 0.5,
    },
    { kind: "categorical without choices", value: 0, json: dist("CategoricalDistribution", {}), want: 0 },
    { kind: "int", value: 3.0000001, json: dist("IntDistribution", { low: 1, high: 4 }), want: 3 },
    {
      kind: "int (Optuna 2 uniform)",
      value: 6.9999999,
      json: dist("IntUniformDistribution", { low: 1, high: 9 }),
      want: 7,
    },
    {
      kind: "int (Optuna 2 log)",
      value: 16.0000002,
      json: dist("IntLogUniformDistribution", { low: 1, high: 64 }),
      want: 16,
    },
    { kind: "float", value: 0.25, json: dist("FloatDistribution", { low: 0, high: 1 }), want: 0.25 },
    {
      kind: "float (Optuna 2 uniform)",
      value: 0.25,
      json: dist("UniformDistribution", { low: 0, high: 1 }),
      want: 0.25,
    },
    {
      kind: "float (Optuna 2 discrete)",
      value: 0.5,
      json: dist("DiscreteUniformDistribution", { low: 0, high: 1, q: 0.5 }),
      want: 0.5,
    },
    { kind: "unknown distribution", value: 2.5, json: dist("SomethingNewDistribution", {}), want: 2.5 },
    { kind: "unreadable distribution", value: 0.25, json: "not json", want: 0.25 },
  ])("$kind: $value -> $want", ({ value, json, want }) => {
    expect(decodeParam(value, json)).toEqual(want);
  });
});

describe("optunaTimeToIso", () => {
  it.each([
    ["2026-02-10 14:30:22.123456", new Date(2026, 1, 10, 14, 30, 22, 123).toISOString()],
    ["2026-02-10T14:30:22", new Date(2026, 1, 10, 14, 30, 22).toISOString()],
    [null, null],
    ["", null],
    ["yesterday", null],
  ])("%j -> %j", (value, want) => {
    expect(optunaTimeToIso(value)).toBe(want);
  });
});

/** An Optuna-shaped study.db (the tables and columns Optuna 3 writes), filled by hand. */
function makeStudyDb(path: string, options: { valueType?: boolean } = {}): void {
  const db = new DatabaseSync(path);
  const valueType = options.valueType ?? true;
  db.exec(`
    CREATE TABLE studies (study_id INTEGER PRIMARY KEY, study_name TEXT);
    CREATE TABLE study_directions (study_direction_id INTEGER PRIMARY KEY, direction TEXT, study_id INTEGER, objective INTEGER);
    CREATE TABLE trials (trial_id INTEGER PRIMARY KEY, number INTEGER, study_id INTEGER, state TEXT, datetime_start TEXT, datetime_complete TEXT);
    CREATE TABLE trial_values (trial_value_id INTEGER PRIMARY KEY, trial_id INTEGER, objective INTEGER, value REAL${valueType ? ", value_type TEXT" : ""});
    CREATE TABLE trial_params (param_id INTEGER PRIMARY KEY, trial_id INTEGER, param_name TEXT, param_value REAL, distribution_json TEXT);
    INSERT INTO studies VALUES (1, 'single'), (2, 'pareto');
    INSERT INTO study_directions VALUES (1, 'MINIMIZE', 1, 0), (2, 'MINIMIZE', 2, 0), (3, 'MAXIMIZE', 2, 1);
  `);
  const trial = db.prepare("INSERT INTO trials VALUES (?, ?, ?, ?, '2026-02-10 14:00:00', ?)");
  const value = valueType
    ? db.prepare("INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, ?, ?, ?)")
    : db.prepare("INSERT INTO trial_values (trial_id, objective, value) VALUES (?, ?, ?)");
  const param = db.prepare(
    "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?, ?, ?, ?)",
  );
  const addValue = (trialId: number, objective: number, v: number | null, type = "FINITE") =>
    valueType ? value.run(trialId, objective, v, type) : value.run(trialId, objective, v);
  // Study 1: trial 1 best (2.0), trial 2 worse, trial 3 -inf (value NULL, INF_NEG), trial 4 pruned, 5 failed, 6 running.
  trial.run(1, 0, 1, "COMPLETE", "2026-02-10 14:01:00.500000");
  trial.run(2, 1, 1, "COMPLETE", "2026-02-10 14:05:00");
  trial.run(3, 2, 1, "COMPLETE", "2026-02-10 14:03:00");
  trial.run(4, 3, 1, "PRUNED", "2026-02-10 14:04:00");
  trial.run(5, 4, 1, "FAIL", null);
  trial.run(6, 5, 1, "RUNNING", null);
  addValue(1, 0, 2.0);
  addValue(2, 0, 5.0);
  addValue(3, 0, null, "INF_NEG");
  param.run(1, "shape", 1, dist("CategoricalDistribution", { choices: ["tri", "hex"] }));
  param.run(1, "n", 3.0000001, dist("IntDistribution", { low: 1, high: 5 }));
  param.run(1, "x", 0.5, dist("FloatDistribution", { low: 0, high: 1 }));
  param.run(2, "shape", 0, dist("CategoricalDistribution", { choices: ["tri", "hex"] }));
  // Study 2: two objectives (min, max); trials 7 and 8 on the front, 9 dominated.
  trial.run(7, 0, 2, "COMPLETE", "2026-02-11 09:00:00");
  trial.run(8, 1, 2, "COMPLETE", "2026-02-11 09:01:00");
  trial.run(9, 2, 2, "COMPLETE", "2026-02-11 09:02:00");
  for (const [id, a, b] of [
    [7, 1, 1],
    [8, 2, 3],
    [9, 3, 0],
  ] as const) {
    addValue(id, 0, a);
    addValue(id, 1, b);
  }
  db.close();
}

describe("openStudyDb", () => {
  it("answers the progress and summary questions from one study.db", async () => {
    const path = join(await tempDir(), "study.db");
    makeStudyDb(path);
    const db = openStudyDb(path, { busyTimeoutMs: 1000 });
    try {
      expect(db.missingTable()).toBeUndefined();
      expect(db.studies(5)).toEqual([
        { study_id: 1, study_name: "single" },
        { study_id: 2, study_name: "pareto" },
      ]);
      expect(db.studies(1, true)).toEqual([{ study_id: 2, study_name: "pareto" }]);
      expect(db.directions(1)).toEqual(["MINIMIZE"]);
      expect(db.directions(2)).toEqual(["MINIMIZE", "MAXIMIZE"]);
      expect(Object.fromEntries(db.trialCounts(1))).toEqual({ COMPLETE: 3, PRUNED: 1, FAIL: 1, RUNNING: 1 });
      expect(db.lastTrialAt(1)).toBe(new Date(2026, 1, 10, 14, 5, 0).toISOString());
      // The -inf trial is no best value: only finite values count.
      expect(db.bestTrial(1, 0, "MINIMIZE")).toEqual({ trial_id: 1, number: 0, value: 2 });
      expect(db.bestTrial(1, 0, "MAXIMIZE")).toEqual({ trial_id: 2, number: 1, value: 5 });
      expect(db.bestTrial(2, 1, "maximize")).toEqual({ trial_id: 8, number: 1, value: 3 });
      expect(db.bestTrial(1, 1, "MINIMIZE")).toBeUndefined();
      expect(db.trialParams(1)).toEqual({ shape: "hex", n: 3, x: 0.5 });
      expect(db.trialParams(1, 2)).toEqual({ shape: "hex", n: 3 });
      expect(Object.keys(db.trialParams(1))).toEqual(["shape", "n", "x"]);
      expect([...db.trialValues(2)]).toEqual([
        { trial_id: 7, objective: 0, value: 1 },
        { trial_id: 7, objective: 1, value: 1 },
        { trial_id: 8, objective: 0, value: 2 },
        { trial_id: 8, objective: 1, value: 3 },
        { trial_id: 9, objective: 0, value: 3 },
        { trial_id: 9, objective: 1, value: 0 },
      ]);
    } finally {
      db.close();
    }
  });

  it("reads a study.db written before value_type existed", async () => {
    const path = join(await tempDir(), "study.db");
    makeStudyDb(path, { valueType: false });
    const db = openStudyDb(path);
    try {
      expect(db.bestTrial(1, 0, "MINIMIZE")).toEqual({ trial_id: 1, number: 0, value: 2 });
    } finally {
      db.close();
    }
  });

  it("names the missing table of a file that is no Optuna study", async () => {
    const path = join(await tempDir(), "other.db");
    const raw = new DatabaseSync(path);
    raw.exec("CREATE TABLE studies (study_id INTEGER PRIMARY KEY, study_name TEXT)");
    raw.close();
    const db = openStudyDb(path);
    try {
      expect(db.missingTable()).toBe("trials");
    } finally {
      db.close();
    }
  });

  it.runIf(POSIX).each([
    ["a symbolic link", (target: string, at: string) => symlink(target, at), "symbolic link"],
    ["a FIFO", async (_target: string, at: string) => mkfifo(at), "FIFO"],
  ] as const)("refuses %s, unopened", async (_name, make, what) => {
    const dir = await tempDir();
    await mkdir(join(dir, "real"));
    const real = join(dir, "real", "study.db");
    makeStudyDb(real);
    const at = join(dir, "study.db");
    await make(real, at);
    expect(() => openStudyDb(at)).toThrow(what);
  });

  it("a missing file is an fs error", async () => {
    expect(() => openStudyDb(join("/nonexistent-atomizer", "study.db"))).toThrow(/ENOENT/);
  });
});
