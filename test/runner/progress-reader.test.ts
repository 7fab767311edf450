import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readProgress, readStudyProgress } from "../../runner/progress-reader.ts";
import { findOptunaPython, requireUnderCi } from "../helpers/python.ts";
import { FIXTURES } from "./helpers/make-job.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "atomizer-progress-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// decodeParam and optunaTimeToIso moved to protocol/study-db.ts: their tables are in test/protocol/study-db.test.ts.

describe("with a real Optuna study", () => {
  const python = findOptunaPython();
  const have = requireUnderCi(python !== undefined, "a python3 with optuna and matplotlib");
  let results = "";
  beforeAll(() => {
    if (!have || !python) return;
    results = path.join(dir, "study", "3_results");
    execFileSync(python, [path.join(FIXTURES, "optuna_study.py"), "5"], {
      env: { ...process.env, ATOMIZER_RESULTS_DIR: results },
      stdio: "ignore",
      timeout: 60_000,
    });
  }, 90_000);

  test.runIf(have)("counts, best value and decoded best params come from study.db", () => {
    const progress = readStudyProgress(path.join(results, "study.db"));
    const db = new DatabaseSync(path.join(results, "study.db"), { readOnly: true });
    const best = db
      .prepare(
        "SELECT t.number AS number, v.value AS value FROM trials t JOIN trial_values v ON v.trial_id = t.trial_id ORDER BY v.value LIMIT 1",
      )
      .get() as { number: number; value: number };
    db.close();
    expect(progress).toMatchObject({
      source: "study.db",
      trials_complete: 5,
      trials_failed: 0,
      trials_pruned: 0,
      trials_running: 0,
      best_value: best.value,
      best_values: [best.value],
      best_trial: best.number,
    });
    expect(["hex", "tri", "square"]).toContain(progress.best_params?.shape);
    expect(Number.isInteger(progress.best_params?.n)).toBe(true);
    expect(Date.parse(progress.last_trial_at ?? "")).toBeGreaterThan(Date.now() - 10 * 60_000);
  });

  test.runIf(have)("a valid progress.json wins; a torn one falls back to study.db", async () => {
    await writeFile(
      path.join(results, "progress.json"),
      JSON.stringify({ trials_complete: 2, message: "mine" }),
    );
    expect(await readProgress(results, undefined)).toMatchObject({
      source: "progress.json",
      trials_complete: 2,
      message: "mine",
    });
    await writeFile(path.join(results, "progress.json"), '{"trials_comp');
    expect(await readProgress(results, undefined)).toMatchObject({ source: "study.db", trials_complete: 5 });
    await rm(path.join(results, "progress.json"));
  });
});

test("no study.db, or one that cannot be read, keeps the previous progress", async () => {
  const empty = path.join(dir, "empty");
  await mkdir(empty, { recursive: true });
  const previous = { source: "study.db" as const, trials_complete: 7 };
  expect(await readProgress(empty, previous)).toBe(previous);
  await writeFile(path.join(empty, "study.db"), "this is not sqlite");
  expect(await readProgress(empty, previous)).toBe(previous);
  expect(await readProgress(empty, undefined)).toBeUndefined();
});

test("a study.db locked by a writer mid-transaction keeps the previous progress", async () => {
  const locked = path.join(dir, "locked");
  await mkdir(locked, { recursive: true });
  const writer = new DatabaseSync(path.join(locked, "study.db"));
  writer.exec("CREATE TABLE studies (study_id INTEGER PRIMARY KEY); INSERT INTO studies VALUES (1);");
  writer.exec("BEGIN EXCLUSIVE; INSERT INTO studies VALUES (2);");
  try {
    const previous = { source: "study.db" as const, trials_complete: 3 };
    expect(await readProgress(locked, previous)).toBe(previous);
  } finally {
    writer.exec("ROLLBACK");
    writer.close();
  }
});
