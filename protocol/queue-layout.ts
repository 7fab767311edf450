import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "./errors.ts";

export const JOB_FILE = "job.json";
export const LOG_FILE = "stdout.log";
export const README_FILE = "README.md";
export const SPEC_FILE = "atomizer_spec.json";
export const RESULTS_DIR = "3_results";
export const PROGRESS_FILE = "progress.json";
export const STUDY_DB = "study.db";

/** Prefix and suffix of every temp file this package writes inside a synced folder (listed in .stignore). */
export const ATOMIC_TEMP_PREFIX = ".atomizer-";
export const ATOMIC_TEMP_SUFFIX = ".tmp";

/** Folder (inside outbox/) where the submitting side asks the runner to cancel jobs. */
export const CANCEL_DIR = ".cancel";
/** Folder (inside inbox/) where each runner publishes its heartbeat. */
export const RUNNERS_DIR = ".runners";
/**
 * The submitting side's own bookkeeping (`<root>/.state/`, never synced): receipts of fetched results
 * and the notifier's hand-off ledger. Lives beside the synced folders so every local process sees it.
 */
export const SUBMITTER_STATE_DIR = ".state";

/** The environment a job's script is started with. */
export const JOB_ENV = {
  jobId: "ATOMIZER_JOB_ID",
  jobDir: "ATOMIZER_JOB_DIR",
  resultsDir: "ATOMIZER_RESULTS_DIR",
} as const;

export type QueueSide = "submitter" | "runner";

/** One writer per folder: who may write each top-level folder of the queue. */
export const FOLDER_WRITERS = {
  outbox: "submitter",
  archive: "submitter",
  inbox: "runner",
} as const satisfies Record<string, QueueSide>;

export interface QueuePaths {
  root: string;
  outbox: string;
  inbox: string;
  archive: string;
  cancelDir: string;
  runnersDir: string;
  /** Submitting side's local state (not synced). */
  stateDir: string;
  /** `<stateDir>/fetched/<job_id>.json`: written when an agent has fetched a job's complete results. */
  fetchedDir: string;
  /** `<stateDir>/tasks/<task_id>.json`: MCP tasks (wait_for_job, fetch_results), kept across server restarts. */
  tasksDir: string;
}

/** Paths of a queue root; `pathApi` lets callers compute Windows paths on any host (path.win32). */
export function queuePaths(root: string, pathApi: { join: typeof join } = { join }): QueuePaths {
  const outbox = pathApi.join(root, "outbox");
  const inbox = pathApi.join(root, "inbox");
  return {
    root,
    outbox,
    inbox,
    archive: pathApi.join(root, "archive"),
    cancelDir: pathApi.join(outbox, CANCEL_DIR),
    runnersDir: pathApi.join(inbox, RUNNERS_DIR),
    stateDir: pathApi.join(root, SUBMITTER_STATE_DIR),
    fetchedDir: pathApi.join(root, SUBMITTER_STATE_DIR, "fetched"),
    tasksDir: pathApi.join(root, SUBMITTER_STATE_DIR, "tasks"),
  };
}

/**
 * Patterns for each synced folder's .stignore: our own write-then-rename temp files (so Syncthing
 * never ships a half-written one) and OS junk that would otherwise become "job files".
 */
export const STIGNORE_LINES = [
  "// atomizer-job-queue: written by `atomizer-jobs init`",
  `${ATOMIC_TEMP_PREFIX}*${ATOMIC_TEMP_SUFFIX}`,
  "(?d).DS_Store",
  "(?d)._*",
  "(?d)Thumbs.db",
  "(?d)desktop.ini",
  "(?d)~$*",
  "(?d)__pycache__",
];

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    if (errnoCode(error) === "ENOENT" || errnoCode(error) === "ENOTDIR") return false;
    throw error;
  }
}

/** What is wrong with a queue root, one sentence each; empty when the layout is usable. */
export async function checkQueueLayout(root: string): Promise<string[]> {
  if (!(await isDirectory(root))) {
    return [
      `queue root ${root} does not exist or is not a folder; create it with \`atomizer-jobs init --queue ${root}\``,
    ];
  }
  const paths = queuePaths(root);
  const problems: string[] = [];
  for (const name of ["outbox", "inbox", "archive"] as const) {
    if (!(await isDirectory(paths[name]))) {
      problems.push(
        `${paths[name]} is missing; run \`atomizer-jobs init --queue ${root}\` or check the Syncthing folder`,
      );
    }
  }
  return problems;
}

/**
 * Creates the queue layout under `root` (idempotent). Each of outbox/, inbox/ and archive/ is its own
 * Syncthing folder, so each gets its own .stignore; an existing .stignore is left as the user wrote it.
 */
export async function initQueue(root: string): Promise<QueuePaths> {
  const paths = queuePaths(root);
  for (const dir of [paths.outbox, paths.inbox, paths.archive]) {
    await mkdir(dir, { recursive: true });
    try {
      await writeFile(join(dir, ".stignore"), `${STIGNORE_LINES.join("\n")}\n`, { flag: "wx" });
    } catch (error) {
      if (errnoCode(error) !== "EEXIST") throw error;
    }
  }
  return paths;
}
