import { copyFile, mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Job } from "../protocol/index.ts";
import {
  buildManifest,
  initQueue,
  JOB_FILE,
  JobSchema,
  LOG_FILE,
  RESULTS_DIR,
  SCHEMA_VERSION,
  STUDY_DB,
  writeJsonAtomic,
} from "../protocol/index.ts";
import { summarizeStudyDb } from "../submitter/results/study-summary.ts";
import type { Benchmark } from "./bench-result.ts";
import { openMcpSession } from "./mcp-session.ts";
import { memoryStatus } from "./proc-stats.ts";
import { formatSummary, summarize } from "./stats.ts";
import { execFileAsync, repeat, timeMs } from "./timing.ts";

const RATIO_GOAL = 1;
const PEAK_RSS_GOAL_MB = 200;
const GENERATOR = new URL("./make_optuna_study.py", import.meta.url).pathname;

interface Generated {
  study_name: string;
  trials: number;
  best_value: number;
  best_number: number;
}

/** A completed job in inbox/ exactly as a runner publishes it: results first, job.json with the manifest last. */
async function publishCompletedJob(queueRoot: string, studyDb: string): Promise<string> {
  const queue = await initQueue(queueRoot);
  const jobId = "job-20260520-120000-bench-fetch-results";
  const created = "2026-05-20T12:00:00Z";
  const submitted: Job = JobSchema.parse({
    job_id: jobId,
    created_at: created,
    created_by: "bench",
    project: "fetch-bench",
    channel: "#fetch-bench",
    type: "optimization",
    script: "run_optimization.py",
    args: [],
    status: "submitted",
    notify: { on_complete: true, on_fail: true },
    schema_version: SCHEMA_VERSION,
    files: [],
  });
  await mkdir(join(queue.outbox, jobId), { recursive: true });
  await writeJsonAtomic(join(queue.outbox, jobId, JOB_FILE), submitted);
  const inbox = join(queue.inbox, jobId);
  await mkdir(join(inbox, RESULTS_DIR), { recursive: true });
  await copyFile(studyDb, join(inbox, RESULTS_DIR, STUDY_DB));
  await writeFile(join(inbox, LOG_FILE), "[I] study finished\n");
  const files = await buildManifest(inbox, [`${RESULTS_DIR}/${STUDY_DB}`, LOG_FILE]);
  const at = "2026-05-20T14:00:00Z";
  const completed: Job = JobSchema.parse({
    ...submitted,
    status: "completed",
    seq: 4,
    queued_at: "2026-05-20T12:00:30Z",
    started_at: "2026-05-20T12:01:00Z",
    heartbeat_at: at,
    finished_at: at,
    runner: { host: "nx-workstation", version: "0.1.0", heartbeat_s: 10 },
    exit_code: 0,
    results: { files, published_at: at },
  });
  await writeJsonAtomic(join(inbox, JOB_FILE), completed);
  return jobId;
}

/**
 * P5: fetch_results of a completed job whose 3_results/study.db is a real Optuna study with 20,000
 * trials, through a real MCP client (copy + verify + SQL summary), beside python3 with optuna loading
 * the same study and printing its best trial.
 */
export const fetchResultsBenchmark: Benchmark = async ({ quick, scratch, python, log }) => {
  const what = `fetch_results summary of a real Optuna study.db with ${quick ? "1,000" : "20,000"} trials through a real MCP client (stdio)`;
  if (!python) {
    return {
      id: "P5",
      what,
      figure: "-",
      baseline: "-",
      ratio: "-",
      goal: `ratio <= ${RATIO_GOAL}; peak RSS <= ${PEAK_RSS_GOAL_MB} MB`,
      verdict: "skipped",
      notes: [
        "no python3 with optuna (Debian: apt-get install python3-optuna); set ATOMIZER_PYTHON to use another one",
      ],
    };
  }
  const total = quick ? 1000 : 20_000;
  const real = quick ? 40 : 200;
  const runs = quick ? 1 : 5;
  const studyDb = join(scratch, "study.db");
  log(`P5: building a study.db: ${real} trials by optuna, ${total - real} inserted in bulk`);
  let generated!: Generated;
  const generateMs = await timeMs(async () => {
    const { stdout } = await execFileAsync(python, [GENERATOR, studyDb, String(total), String(real)], {
      maxBuffer: 16 * 1024 * 1024,
    });
    generated = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Generated;
  });
  const dbMb = (await stat(studyDb)).size / 1024 / 1024;
  const queueRoot = join(scratch, "p5-queue");
  const jobId = await publishCompletedJob(queueRoot, studyDb);
  const session = await openMcpSession(
    ["--queue", queueRoot, "--work", join(scratch, "p5-work"), "--role", "processor"],
    { stateDir: join(scratch, "p5-server-state") },
  );
  try {
    const idle = await memoryStatus(session.pid);
    const ours = summarize(
      await repeat(runs, async () => {
        const result = await session.call("fetch_results", { job_id: jobId });
        const out = result.structuredContent as {
          complete: boolean;
          study: { trials_total: number; best: { value: number | null; trial_number: number | null }[] }[];
        };
        const study = out.study[0];
        if (!out.complete || study?.trials_total !== total || study.best[0]?.value !== generated.best_value) {
          throw new Error(
            `P5: fetch_results summary disagrees with optuna: ${JSON.stringify(out).slice(0, 500)}`,
          );
        }
      }),
    );
    const peak = await memoryStatus(session.pid);
    const summaryOnly = summarize(await repeat(runs, async () => summarizeStudyDb(studyDb)));
    const script = [
      "import optuna",
      "optuna.logging.set_verbosity(optuna.logging.ERROR)",
      `s = optuna.load_study(study_name=${JSON.stringify(generated.study_name)}, storage=${JSON.stringify(`sqlite:///${studyDb}`)})`,
      "print(s.best_trial)",
    ].join("\n");
    const baseline = summarize(
      await repeat(runs, () => execFileAsync(python, ["-c", script], { maxBuffer: 16 * 1024 * 1024 })),
    );
    const importOnly = summarize(
      await repeat(quick ? 1 : 3, () => execFileAsync(python, ["-c", "import optuna"])),
    );
    const ratio = ours.median / baseline.median;
    const met = ratio <= RATIO_GOAL && peak.peakRssMb <= PEAK_RSS_GOAL_MB;
    return {
      id: "P5",
      what,
      figure: `${formatSummary(ours, "ms", 0)}; server peak RSS ${peak.peakRssMb.toFixed(1)} MB (idle ${idle.peakRssMb.toFixed(1)} MB)`,
      baseline: `python3 -c (optuna.load_study, print best_trial): ${formatSummary(baseline, "ms", 0)}`,
      ratio: ratio.toFixed(2),
      goal: `ratio <= ${RATIO_GOAL}; peak RSS <= ${PEAK_RSS_GOAL_MB} MB`,
      verdict: quick ? "n/a" : met ? "met" : "missed",
      notes: [
        `study.db (${dbMb.toFixed(1)} MB): bench/make_optuna_study.py runs ${real} real Optuna trials (RandomSampler; 5 params: 3 float, 1 int, 1 categorical; 3 intermediate values; every 17th pruned, every 29th failed), then inserts the other ${total - real} with sqlite3 in one transaction, copying the exact rows Optuna wrote for a real trial of the same state (trial_params, trial_values, trial_intermediate_values, trial_user_attributes) with parameters resampled from the stored distributions and the objective recomputed; optuna.load_study then confirms ${generated.trials} trials and best trial #${generated.best_number} = ${generated.best_value.toFixed(4)}. Took ${(generateMs / 1000).toFixed(1)} s.`,
        `fetch_results copies study.db and stdout.log out of inbox/ (hashing as it copies), verifies them against the results manifest, then summarises with SQL, draws the plots from study.db (history and slices: SQL, SVG, PNG by resvg on the thread pool) and writes report.html; before the plots (issue 18) this benchmark measured 58 ms and 126 MB, and the first version of the plots (5,000 points each, up to four renders per plot) 1445 ms and 356 MB. The summary step alone (submitter/results/study-summary.ts in this process): ${formatSummary(summaryOnly, "ms", 1)}. python3 -c "import optuna" alone: ${formatSummary(importOnly, "ms", 0)}.`,
      ],
    };
  } finally {
    await session.close();
  }
};
