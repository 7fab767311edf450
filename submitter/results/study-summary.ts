import { lstatSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { z } from "zod";
import { describeFileKind } from "../../protocol/index.ts";

export const ObjectiveBestSchema = z.object({
  objective: z.number().int(),
  direction: z.string(),
  value: z.number().nullable(),
  trial_number: z.number().int().nullable(),
  params: z.record(z.string(), z.unknown()),
});

export const StudySummarySchema = z.object({
  study_name: z.string(),
  directions: z.array(z.string()),
  trials: z.record(z.string(), z.number().int()),
  trials_total: z.number().int(),
  best: z.array(ObjectiveBestSchema),
  /** Multi-objective: size of the Pareto front among complete trials. */
  pareto_front_size: z.number().int().optional(),
  note: z.string().optional(),
});
export type StudySummary = z.infer<typeof StudySummarySchema>;

const MAX_STUDIES = 5;

/** dev:ino of a regular file; a link, FIFO or device is refused with what it is. */
function regularFileIdentity(path: string): string {
  const stats = lstatSync(path, { bigint: true });
  if (!stats.isFile()) {
    throw new Error(
      `${path} is ${describeFileKind(stats)}, not a regular file; a study.db is only opened as a regular file`,
    );
  }
  return `${stats.dev}:${stats.ino}:${stats.birthtimeNs}`;
}
/** Beyond this the front is reported as "at least": memory stays bounded whatever the trial count. */
const MAX_FRONT = 5000;

type Row = Record<string, unknown>;

function decodeParam(value: number, distributionJson: string): unknown {
  try {
    const distribution = JSON.parse(distributionJson) as {
      name?: string;
      attributes?: { choices?: unknown[] };
    };
    if (distribution.name?.startsWith("Categorical")) {
      // Optuna stores a categorical value as the index into its choices.
      return distribution.attributes?.choices?.[value] ?? value;
    }
    if (distribution.name?.startsWith("Int")) return Math.round(value);
  } catch {
    // an unreadable distribution still leaves the raw number
  }
  return value;
}

function paramsOf(db: DatabaseSync, trialId: number): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  const rows = db
    .prepare(
      "SELECT param_name, param_value, distribution_json FROM trial_params WHERE trial_id = ? ORDER BY param_id",
    )
    .all(trialId) as Row[];
  for (const row of rows.slice(0, 50)) {
    params[String(row.param_name)] = decodeParam(Number(row.param_value), String(row.distribution_json));
  }
  return params;
}

function dominates(a: readonly number[], b: readonly number[]): boolean {
  let better = false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x > y) return false;
    if (x < y) better = true;
  }
  return better;
}

/** Pareto front size over complete trials, streaming rows: memory holds the front, never all trials. */
function paretoFrontSize(
  db: DatabaseSync,
  studyId: number,
  signs: readonly number[],
): { size: number; capped: boolean } {
  const statement = db.prepare(
    `SELECT v.trial_id AS trial_id, v.objective AS objective, v.value AS value
     FROM trial_values v JOIN trials t ON t.trial_id = v.trial_id
     WHERE t.study_id = ? AND t.state = 'COMPLETE'
     ORDER BY v.trial_id, v.objective`,
  );
  let front: number[][] = [];
  let capped = false;
  let current: { id: number; values: (number | null)[] } | undefined;
  const settle = () => {
    if (!current || current.values.length !== signs.length || current.values.some((v) => v === null)) return;
    const point = current.values.map((v, i) => (v as number) * (signs[i] ?? 1));
    if (front.some((other) => dominates(other, point))) return;
    front = front.filter((other) => !dominates(point, other));
    if (front.length < MAX_FRONT) front.push(point);
    else capped = true;
  };
  for (const row of statement.iterate(studyId) as Iterable<Row>) {
    const id = Number(row.trial_id);
    if (!current || current.id !== id) {
      settle();
      current = { id, values: [] };
    }
    current.values[Number(row.objective)] = row.value === null ? null : Number(row.value);
  }
  settle();
  return { size: front.length, capped };
}

/**
 * Summary of an Optuna study.db with SQL only: trial counts by state, directions, best value(s) and
 * parameters (categoricals decoded from distribution_json), Pareto front size when multi-objective.
 * Opened read-only; fast and small at 20,000 trials.
 */
export function summarizeStudyDb(path: string): StudySummary[] {
  // SQLite opens a path as it finds it, following links and blocking on a FIFO; it has no handle to
  // check. So the path must be a regular file before, and still the same file after, the open.
  const before = regularFileIdentity(path);
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    if (regularFileIdentity(path) !== before)
      throw new Error(`${path} was replaced while it was being opened`);
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Row[]).map((row) =>
        String(row.name),
      ),
    );
    for (const table of ["studies", "trials", "trial_values", "trial_params", "study_directions"]) {
      if (!tables.has(table)) throw new Error(`${path} is not an Optuna study.db (no ${table} table)`);
    }
    const studies = db
      .prepare("SELECT study_id, study_name FROM studies ORDER BY study_id LIMIT ?")
      .all(MAX_STUDIES) as Row[];
    return studies.map((study) => {
      const studyId = Number(study.study_id);
      const directions = (
        db
          .prepare("SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective")
          .all(studyId) as Row[]
      ).map((row) => String(row.direction));
      const trials: Record<string, number> = {};
      let total = 0;
      for (const row of db
        .prepare("SELECT state, COUNT(*) AS n FROM trials WHERE study_id = ? GROUP BY state")
        .all(studyId) as Row[]) {
        trials[String(row.state).toLowerCase()] = Number(row.n);
        total += Number(row.n);
      }
      const best = directions.map((direction, objective) => {
        const order = direction.toUpperCase() === "MAXIMIZE" ? "DESC" : "ASC";
        const row = db
          .prepare(
            `SELECT t.trial_id AS trial_id, t.number AS number, v.value AS value
             FROM trials t JOIN trial_values v ON v.trial_id = t.trial_id
             WHERE t.study_id = ? AND t.state = 'COMPLETE' AND v.objective = ? AND v.value IS NOT NULL
             ORDER BY v.value ${order}, t.number ASC LIMIT 1`,
          )
          .get(studyId, objective) as Row | undefined;
        return {
          objective,
          direction: direction.toLowerCase(),
          value: row ? Number(row.value) : null,
          trial_number: row ? Number(row.number) : null,
          params: row ? paramsOf(db, Number(row.trial_id)) : {},
        };
      });
      const summary: StudySummary = {
        study_name: String(study.study_name),
        directions: directions.map((direction) => direction.toLowerCase()),
        trials,
        trials_total: total,
        best,
      };
      if (directions.length > 1) {
        const signs = directions.map((direction) => (direction.toUpperCase() === "MAXIMIZE" ? -1 : 1));
        const front = paretoFrontSize(db, studyId, signs);
        summary.pareto_front_size = front.size;
        summary.note = `multi-objective: best per objective shown separately; ${front.capped ? "at least " : ""}${front.size} trials on the Pareto front`;
      }
      return summary;
    });
  } finally {
    db.close();
  }
}
