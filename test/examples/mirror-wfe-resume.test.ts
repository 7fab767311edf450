// The example study interrupted mid-way and resumed through the real queue: the server's submit_job,
// the real runner as a child process (as on the workstation) and real Python + Optuna.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueuePaths } from "../../protocol/index.ts";
import { initQueue, readJob } from "../../protocol/index.ts";
import type { ServerContext } from "../../submitter/context.ts";
import { createServerContext } from "../../submitter/context.ts";
import type { StatusView } from "../../submitter/jobs/status-view.ts";
import { cancelJob } from "../../submitter/operations/cancel-job.ts";
import { jobStatus } from "../../submitter/operations/job-status.ts";
import { submitJob } from "../../submitter/operations/submit-job.ts";
import { BIN } from "../helpers/atomizer-jobs.ts";
import { findOptunaPython, requireUnderCi } from "../helpers/python.ts";
import { makeStudy } from "../submitter/fixtures/study-fixture.ts";

const python = findOptunaPython();
const ready = requireUnderCi(python !== undefined, "python3 with optuna and matplotlib");
const STUDY_NAME = "mirror_wfe_demo";
const FIRST_RUN_MIN_TRIALS = 4;
const RESUMED_TRIALS = 6;
const WAIT_MS = 90_000;

interface Trial {
  number: number;
  state: string;
  value: number | null;
  params: Record<string, unknown>;
}

/** Every trial of the study in a study.db, read back by Optuna itself, and how many studies it holds. */
async function readStudy(db: string): Promise<{ studies: number; trials: Trial[] }> {
  const { stdout } = await promisify(execFile)(
    python as string,
    [
      "-c",
      [
        "import json, sys, optuna",
        "optuna.logging.set_verbosity(optuna.logging.WARNING)",
        "storage = 'sqlite:///' + sys.argv[1]",
        "s = optuna.load_study(study_name=sys.argv[2], storage=storage)",
        "print(json.dumps({'studies': len(optuna.get_all_study_summaries(storage)), 'trials': [",
        "    {'number': t.number, 'state': t.state.name, 'value': t.value, 'params': t.params}",
        "    for t in s.get_trials(deepcopy=False)]}))",
      ].join("\n"),
      db,
      STUDY_NAME,
    ],
    { timeout: 30_000 },
  );
  return JSON.parse(stdout) as { studies: number; trials: Trial[] };
}

function best(trials: readonly Trial[]): number {
  return Math.min(...trials.filter((t) => t.state === "COMPLETE").map((t) => t.value as number));
}

async function waitForView(
  ctx: ServerContext,
  jobId: string,
  what: string,
  done: (view: StatusView) => boolean,
): Promise<StatusView> {
  const deadline = Date.now() + WAIT_MS;
  let view = await jobStatus(ctx, jobId);
  while (!done(view)) {
    if (Date.now() > deadline)
      throw new Error(`${jobId} never became ${what}; last view:\n${JSON.stringify(view)}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    view = await jobStatus(ctx, jobId);
  }
  return view;
}

const finishedWithResults = (state: string) => (view: StatusView) =>
  view.state === state && "results" in view && view.results?.complete === true;

describe.runIf(ready)("examples/mirror-wfe-study resumed through the queue", () => {
  let base = "";
  let queue: QueuePaths;
  let ctx: ServerContext;
  let runner: ChildProcess | undefined;
  const runnerLog: string[] = [];

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), "atomizer-resume-"));
    queue = await initQueue(join(base, "queue"));
    ctx = await createServerContext({ queueRoot: queue.root, allow: [base], withIndex: false });
    const folders = ["--queue", queue.root, "--work", join(base, "work"), "--state", join(base, "state")];
    const timings = ["--heartbeat", "0.5", "--rescan", "0.3", "--kill-grace", "5", "--host", "resume-test"];
    runner = spawn(process.execPath, [BIN, "runner", ...folders, "--python", python as string, ...timings], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    runner.stderr?.on("data", (chunk: Buffer) => runnerLog.push(chunk.toString("utf8")));
  });

  afterAll(async () => {
    if (runner && runner.exitCode === null && runner.signalCode === null) {
      const exited = once(runner, "exit");
      runner.kill("SIGTERM");
      await exited;
    }
    await ctx?.close();
    if (base) await rm(base, { recursive: true, force: true, maxRetries: 5 });
  });

  it("a study cancelled mid-way and resumed ends with the union of both runs' trials", {
    timeout: WAIT_MS * 3,
  }, async () => {
    const studyDir = await makeStudy(base);
    const first = await submitJob(
      ctx,
      {
        study_dir: studyDir,
        name: "mirror wfe interrupted",
        project: "starspec-m1-wfe",
        args: ["--trials", "200", "--trial-delay", "0.2"],
      },
      "study-builder",
    );
    await waitForView(ctx, first.job_id, `running with ${FIRST_RUN_MIN_TRIALS} trials`, (view) => {
      const trials = view.state === "running" ? (view.progress?.trials_complete ?? 0) : 0;
      return trials >= FIRST_RUN_MIN_TRIALS;
    });
    await cancelJob(ctx, { job_id: first.job_id, reason: "interrupt the study mid-way" }, "study-builder");
    await waitForView(ctx, first.job_id, "cancelled with its results", finishedWithResults("cancelled"));
    const before = await readStudy(join(queue.inbox, first.job_id, "3_results", "study.db"));
    expect(before.trials.filter((t) => t.state === "COMPLETE").length).toBeGreaterThanOrEqual(
      FIRST_RUN_MIN_TRIALS,
    );
    expect(before.trials.length, "the cancel stopped the first run mid-way").toBeLessThan(200);

    const second = await submitJob(
      ctx,
      {
        study_dir: studyDir,
        name: "mirror wfe resumed",
        project: "starspec-m1-wfe",
        args: ["--trials", String(RESUMED_TRIALS)],
        resume_from: first.job_id,
      },
      "study-builder",
    );
    expect(second).toMatchObject({ resumed_from: first.job_id, resumed_trials: before.trials.length });
    expect((await readJob(join(queue.outbox, second.job_id))).resumed_from).toBe(first.job_id);
    await waitForView(ctx, second.job_id, "completed with its results", finishedWithResults("completed"));

    const after = await readStudy(join(queue.inbox, second.job_id, "3_results", "study.db"));
    expect(after.studies).toBe(1);
    // Union: the first run's trials unchanged, then the new ones, numbered on without a gap.
    expect(after.trials.map((t) => t.number)).toEqual([
      ...Array(before.trials.length + RESUMED_TRIALS).keys(),
    ]);
    for (const trial of before.trials.filter((t) => t.state === "COMPLETE"))
      expect(after.trials[trial.number]).toEqual(trial);
    const added = after.trials.slice(before.trials.length);
    expect(added.map((t) => t.state)).toEqual(Array(RESUMED_TRIALS).fill("COMPLETE"));
    expect(best(after.trials)).toBeLessThanOrEqual(best(before.trials));
    const log = await readFile(join(queue.inbox, second.job_id, "stdout.log"), "utf8");
    expect(log, runnerLog.join("")).toContain(`resuming: study.db holds ${before.trials.length} trials`);
  });
});

describe.runIf(ready)("examples/mirror-wfe-study resuming a study.db a hard kill left behind", () => {
  let base = "";
  afterAll(async () => {
    if (base) await rm(base, { recursive: true, force: true });
  });

  it("records the trial left RUNNING as FAIL and numbers the new trials after it", async () => {
    base = await mkdtemp(join(tmpdir(), "atomizer-resume-stale-"));
    const studyDir = await makeStudy(base);
    const results = join(base, "3_results");
    const env = { ...process.env, ATOMIZER_RESULTS_DIR: results, ATOMIZER_JOB_ID: "stale-test" };
    const script = join(studyDir, "run_optimization.py");
    const run = promisify(execFile);
    await run(python as string, [script, "--trials", "3"], { env, timeout: 60_000 });
    // What a SIGKILL mid-trial leaves: a trial asked for and never told.
    await run(
      python as string,
      [
        "-c",
        "import sys, optuna\noptuna.load_study(study_name=sys.argv[1], storage=sys.argv[2]).ask()",
        STUDY_NAME,
        `sqlite:///${join(results, "study.db")}`,
      ],
      { timeout: 30_000 },
    );
    const before = await readStudy(join(results, "study.db"));
    expect(before.trials.map((t) => t.state)).toEqual(["COMPLETE", "COMPLETE", "COMPLETE", "RUNNING"]);
    const { stdout } = await run(python as string, [script, "--trials", "2"], { env, timeout: 60_000 });
    expect(stdout).toContain("resuming: 1 trials left running by the interrupted run recorded as FAIL");
    const after = await readStudy(join(results, "study.db"));
    expect(after.trials.map((t) => [t.number, t.state])).toEqual([
      [0, "COMPLETE"],
      [1, "COMPLETE"],
      [2, "COMPLETE"],
      [3, "FAIL"],
      [4, "COMPLETE"],
      [5, "COMPLETE"],
    ]);
    expect(after.trials.slice(0, 3)).toEqual(before.trials.slice(0, 3));
  });
});
