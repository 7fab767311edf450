import { beforeAll, describe, expect, test } from "vitest";
import { openStudyDb } from "../../protocol/index.ts";
import type { StudyCase } from "../helpers/optuna-studies.ts";
import { optunaStudies } from "../helpers/optuna-studies.ts";
import { findOptunaPython, requireUnderCi } from "../helpers/python.ts";

const hasPython = requireUnderCi(findOptunaPython() !== undefined, "python3 with optuna");
let studyDb: (name: StudyCase) => string;

beforeAll(async () => {
  if (hasPython) studyDb = await optunaStudies();
}, 200_000);

function withStudy<T>(name: StudyCase, body: (db: ReturnType<typeof openStudyDb>, id: number) => T): T {
  const db = openStudyDb(studyDb(name));
  try {
    return body(db, db.studies(1)[0]?.study_id ?? 0);
  } finally {
    db.close();
  }
}

describe.runIf(hasPython)("trial reads of a real Optuna study.db", () => {
  test.each([
    { limit: 1000, numbers: Array.from({ length: 40 }, (_, i) => i) },
    { limit: 10, numbers: [0, 4, 8, 12, 16, 20, 24, 28, 32, 36] },
    { limit: 7, numbers: [0, 6, 12, 18, 24, 30, 36] },
  ])("a sample of at most $limit of 40 trials spans the whole study", ({ limit, numbers }) => {
    const read = withStudy("minimize", (db, id) => db.trials(id, { limit }));
    expect(read.total).toBe(40);
    expect(read.trials.map((trial) => trial.number)).toEqual(numbers);
  });

  test("included trials are read whatever the spread, with their parameters", () => {
    const read = withStudy("minimize", (db, id) => db.trials(id, { limit: 10, include: [5, 7, 39] }));
    const numbers = read.trials.map((trial) => trial.number);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(numbers).toEqual(expect.arrayContaining([0, 36, 5, 7, 39]));
    expect(read.trials.find((trial) => trial.number === 7)?.values).toEqual([Number.POSITIVE_INFINITY]);
    expect(Object.keys(read.trials.find((trial) => trial.number === 39)?.params ?? {})).not.toEqual([]);
    const only = withStudy("minimize", (db, id) => db.trials(id, { limit: 0, include: [3] }));
    expect(only.trials.map((trial) => trial.number)).toEqual([3]);
  });

  test("complete trials: every one, with values and constraints, none of the other states", () => {
    withStudy("minimize", (db, id) => {
      const complete = db.completeTrials(id, 200_000);
      expect(complete.total).toBe(db.trialCounts(id).get("COMPLETE"));
      expect(complete.trials).toHaveLength(complete.total);
      expect(complete.trials.every((trial) => trial.state === "COMPLETE")).toBe(true);
      const sampled = db.trials(id, { limit: 1000 }).trials.filter((trial) => trial.state === "COMPLETE");
      expect(complete.trials.map((trial) => [trial.number, trial.values])).toEqual(
        sampled.map((trial) => [trial.number, trial.values]),
      );
      expect(db.completeTrials(id, 3).trials).toHaveLength(3);
    });
    withStudy("two", (db, id) => {
      const { trials } = db.completeTrials(id, 200_000);
      expect(trials.every((trial) => trial.values.length === 2)).toBe(true);
      expect(trials.some((trial) => trial.constraints !== undefined)).toBe(true);
    });
  });
});
