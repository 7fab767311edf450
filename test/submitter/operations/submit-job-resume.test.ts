import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Job, QueuePaths } from "../../../protocol/index.ts";
import { hashFile, readJob, verifyManifest } from "../../../protocol/index.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { archiveJob } from "../../../submitter/operations/archive-job.ts";
import { OperationError } from "../../../submitter/operations/operation-error.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { acceptJob, deliverWithheld, finishJob, makeQueue, startJob } from "../fixtures/runner-fixture.ts";

let base: string;
let queue: QueuePaths;
let ctx: ServerContext;

const STUDY = {
  "run_optimization.py": "from pathlib import Path\nprint(Path(__file__).parent / '3_results')\n",
  "atomizer_spec.json": JSON.stringify({
    meta: { version: "2.0", study_name: "m1_wfe" },
    model: {},
    design_variables: [],
    extractors: [],
    objectives: [],
    optimization: {},
  }),
  "1_setup/m1.prt": "part",
};

async function folder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(base, "study-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, ...path.split("/").slice(0, -1)), { recursive: true });
    await writeFile(join(dir, ...path.split("/")), content);
  }
  return dir;
}

/** The tables and rows summarizeStudyDb reads, as Optuna's RDB storage lays them out. */
async function optunaDb(trials: number): Promise<string> {
  const dir = await mkdtemp(join(base, "results-"));
  const db = new DatabaseSync(join(dir, "study.db"));
  db.exec(`CREATE TABLE studies (study_id INTEGER PRIMARY KEY, study_name TEXT);
    CREATE TABLE study_directions (study_id INTEGER, direction TEXT, objective INTEGER);
    CREATE TABLE trials (trial_id INTEGER PRIMARY KEY, number INTEGER, study_id INTEGER, state TEXT);
    CREATE TABLE trial_values (trial_id INTEGER, objective INTEGER, value REAL);
    CREATE TABLE trial_params (param_id INTEGER PRIMARY KEY, trial_id INTEGER, param_name TEXT,
      param_value REAL, distribution_json TEXT);
    INSERT INTO studies VALUES (1, 'm1_wfe');
    INSERT INTO study_directions VALUES (1, 'MINIMIZE', 0);`);
  for (let n = 0; n < trials; n++) {
    db.prepare("INSERT INTO trials VALUES (?, ?, 1, 'COMPLETE')").run(n + 1, n);
    db.prepare("INSERT INTO trial_values VALUES (?, 0, ?)").run(n + 1, 20 - n);
  }
  db.close();
  return dir;
}

/** A job submitted, run by the fixture runner and ended as `end` says, with `results` in inbox/. */
async function earlierJob(
  end: "completed" | "failed" | "cancelled",
  options: { kind?: string; results?: string; withhold?: boolean; started?: boolean } = {},
): Promise<string> {
  const { job_id } = await submitJob(
    ctx,
    { study_dir: await folder(STUDY), name: "mirror wfe first", project: "starspec" },
    "study-builder",
  );
  await acceptJob(queue, job_id);
  if (options.started !== false) await startJob(queue, job_id);
  const patch: Partial<Job> = options.kind ? { error: { kind: options.kind, message: "stopped" } } : {};
  await finishJob(
    queue,
    job_id,
    end,
    {
      ...(options.results ? { resultsDir: options.results } : {}),
      ...(options.withhold ? { withhold: ["3_results/study.db"] } : {}),
    },
    patch,
  );
  return job_id;
}

function resume(from: string, studyDir: string, extra: Record<string, string> = {}) {
  return submitJob(
    ctx,
    { study_dir: studyDir, name: "mirror wfe resumed", project: "starspec", resume_from: from, ...extra },
    "study-builder",
  );
}

async function outboxJobs(): Promise<string[]> {
  return (await readdir(queue.outbox)).filter((name) => name.startsWith("job-")).sort();
}

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  ctx = await createServerContext({ queueRoot: queue.root, allow: [base], withIndex: false });
});

afterAll(async () => {
  await ctx.close();
  await rm(base, { recursive: true, force: true });
});

type Setup = () => Promise<{ from: string; studyDir?: string }>;

describe("submit_job resume_from refuses, publishing nothing", () => {
  const cases: [string, Setup, OperationError["code"], RegExp][] = [
    [
      "a job id nobody knows",
      async () => ({ from: "job-20260210-143022-nothing-here" }),
      "not_found",
      /no job/,
    ],
    ["a job id that is no id", async () => ({ from: "../outbox" }), "invalid_argument", /is not a job id/],
    [
      "a job still waiting for the runner",
      async () => {
        const { job_id } = await submitJob(
          ctx,
          { study_dir: await folder(STUDY), name: "mirror wfe waiting", project: "starspec" },
          "a",
        );
        return { from: job_id };
      },
      "wrong_state",
      /is submitted; a study is resumed from a job that has finished/,
    ],
    [
      "a running job",
      async () => {
        const { job_id } = await submitJob(
          ctx,
          { study_dir: await folder(STUDY), name: "mirror wfe running", project: "starspec" },
          "a",
        );
        await acceptJob(queue, job_id);
        await startJob(queue, job_id);
        return { from: job_id };
      },
      "wrong_state",
      /is running/,
    ],
    [
      "a job whose script failed (its trials may be wrong)",
      async () => ({ from: await earlierJob("failed", { results: await optunaDb(3) }) }),
      "wrong_state",
      /failed with exit_code; only a study stopped from outside/,
    ],
    [
      "a job the runner rejected",
      async () => ({ from: await earlierJob("failed", { kind: "rejected", started: false }) }),
      "wrong_state",
      /failed with rejected/,
    ],
    [
      "a job cancelled before its script stored a study",
      async () => ({ from: await earlierJob("cancelled", { started: false }) }),
      "wrong_state",
      /results list no 3_results\/study\.db/,
    ],
    [
      "a job whose study.db is still syncing",
      async () => ({ from: await earlierJob("completed", { results: await optunaDb(3), withhold: true }) }),
      "wrong_state",
      /study\.db is missing: .* results are still syncing/,
    ],
    [
      "a job whose study.db differs from its results manifest",
      async () => {
        const from = await earlierJob("completed", { results: await optunaDb(3) });
        const db = join(queue.inbox, from, "3_results", "study.db");
        const bytes = await readFile(db);
        // Same size, other content: only the sha256 can tell.
        bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
        await deliverWithheld(queue, from, { "3_results/study.db": bytes });
        return { from };
      },
      "wrong_state",
      /does not match its results manifest \(size or sha256\)/,
    ],
    [
      "an archived job whose archive copy is damaged",
      async () => {
        const from = await earlierJob("failed", { kind: "timeout", results: await optunaDb(3) });
        const { archive_dir } = await archiveJob(ctx, { job_id: from });
        await writeFile(join(archive_dir, "3_results", "study.db"), "not the study any more");
        return { from };
      },
      "conflict",
      /the archive copy of .* is damaged/,
    ],
    [
      "a study.db that is no Optuna study",
      async () => {
        const results = await mkdtemp(join(base, "results-"));
        await writeFile(join(results, "study.db"), "plain text, not SQLite");
        return { from: await earlierJob("completed", { results }) };
      },
      "invalid_argument",
      /is not a readable Optuna study/,
    ],
    [
      "a study folder that has its own 3_results/study.db",
      async () => ({
        from: await earlierJob("cancelled", { results: await optunaDb(3) }),
        studyDir: await folder({ ...STUDY, "3_results/study.db": "another study" }),
      }),
      "invalid_argument",
      /study_dir has its own 3_results\/study\.db .* ambiguous/,
    ],
  ];

  test.each(cases)("%s", async (_label, setup, code, message) => {
    const { from, studyDir } = await setup();
    const before = await outboxJobs();
    const refusal = await resume(from, studyDir ?? (await folder(STUDY))).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(OperationError);
    expect((refusal as OperationError).code).toBe(code);
    expect((refusal as OperationError).message).toMatch(message);
    expect((refusal as OperationError).hint).toMatch(/\w/);
    expect(await outboxJobs()).toEqual(before);
    expect(await readdir(ctx.stagingDir).catch(() => [])).toEqual([]);
  });
});

describe("submit_job resume_from carries the verified study.db", () => {
  const ends: [string, "completed" | "failed" | "cancelled", string | undefined][] = [
    ["a runner restart", "failed", "runner_restart"],
    ["a timeout", "failed", "timeout"],
    ["a cancel", "cancelled", undefined],
    ["a completed study (continued with more trials)", "completed", undefined],
  ];

  test.each(ends)("after %s", async (_label, end, kind) => {
    const results = await optunaDb(4);
    const from = await earlierJob(end, { results, ...(kind ? { kind } : {}) });
    const result = await resume(from, await folder(STUDY));
    expect(result).toMatchObject({ resumed_from: from, resumed_trials: 4, existing: false });
    const dir = join(queue.outbox, result.job_id);
    const job = await readJob(dir);
    expect(job.resumed_from).toBe(from);
    const carried = job.files?.find((file) => file.path === "3_results/study.db");
    expect(carried).toEqual({ path: "3_results/study.db", ...(await hashFile(join(results, "study.db"))) });
    expect((await verifyManifest(dir, job.files ?? [])).complete).toBe(true);
    expect(await readFile(join(dir, "README.md"), "utf8")).toContain(
      `Continues the Optuna study of ${from} (\`3_results/study.db\`, 4 trials so far)`,
    );
  });

  test("from the archive, once the job was archived", async () => {
    const results = await optunaDb(2);
    const from = await earlierJob("failed", { kind: "timeout", results });
    await archiveJob(ctx, { job_id: from });
    const result = await resume(from, await folder(STUDY));
    expect(result.resumed_trials).toBe(2);
    const job = await readJob(join(queue.outbox, result.job_id));
    expect(job.files?.find((file) => file.path === "3_results/study.db")?.sha256).toBe(
      (await hashFile(join(results, "study.db"))).sha256,
    );
  });

  test("an idempotency_key retry returns the same job; the key with another source is refused", async () => {
    const first = await earlierJob("cancelled", { results: await optunaDb(1) });
    const other = await earlierJob("cancelled", { results: await optunaDb(5) });
    const studyDir = await folder(STUDY);
    const once = await resume(first, studyDir, { idempotency_key: "resume-once" });
    const again = await resume(first, studyDir, { idempotency_key: "resume-once" });
    expect(again).toMatchObject({ job_id: once.job_id, existing: true, resumed_from: first });
    await expect(resume(other, studyDir, { idempotency_key: "resume-once" })).rejects.toThrow(
      /already used for .* with different content/,
    );
  });
});
