import { readFile, rename } from "node:fs/promises";
import path from "node:path";
import { withFsRetry, writeJsonAtomic } from "../../protocol/atomic-fs.ts";
import { errnoCode } from "../../protocol/errors.ts";

/**
 * The files of one supervised run, in `<work>/.runs/<job_id>/` (local, never synced). The run's
 * request moves through three names by atomic renames, so the runner and the supervisor can never
 * both believe they decided whether the script starts:
 *
 *   spec.json --supervisor claims--> claimed.json --supervisor commits--> launched.json
 *   spec.json | claimed.json --a restarted runner gives up--> abandoned.json
 *
 * `launched.json` exists before the script is spawned, and `state.json` (the supervisor's identity)
 * before that, so a run without `launched.json` provably never started its script.
 */
export const RUNS_DIR = ".runs";
export const RUN_FILES = {
  spec: "spec.json",
  claimed: "claimed.json",
  launched: "launched.json",
  abandoned: "abandoned.json",
  state: "state.json",
  outcome: "outcome.json",
  log: "supervisor.log",
} as const;

/** Names every descendant of the script inherits, so leftovers can be found after the tree link is gone. */
export const RUN_TOKEN_ENV = "ATOMIZER_RUN_TOKEN";

export function runDir(workDir: string, jobId: string): string {
  return path.join(workDir, RUNS_DIR, jobId);
}

export function runFile(dir: string, name: keyof typeof RUN_FILES): string {
  return path.join(dir, RUN_FILES[name]);
}

/** Reads one run file and checks it with `parse`; undefined when it does not exist. Anything else unreadable throws. */
export async function readRunFile<T>(file: string, parse: (raw: unknown) => T): Promise<T | undefined> {
  let text: string;
  try {
    // Retried: an antivirus scan at boot holds fresh files on Windows (EPERM/EBUSY), and a read that
    // fails during adoption would leave the run unfollowed until the next restart.
    text = await withFsRetry(() => readFile(file, "utf8"));
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  }
  return parse(JSON.parse(text));
}

export function writeRunFile(file: string, value: unknown): Promise<void> {
  return writeJsonAtomic(file, value);
}

/** Renames one run file to another; false when the source is not there (the other side moved it first). */
export async function moveRunFile(
  dir: string,
  from: keyof typeof RUN_FILES,
  to: keyof typeof RUN_FILES,
): Promise<boolean> {
  try {
    // Retried: on Windows an antivirus scan holds a fresh file for a moment (EPERM/EBUSY).
    await withFsRetry(() => rename(runFile(dir, from), runFile(dir, to)));
    return true;
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return false;
    throw error;
  }
}
