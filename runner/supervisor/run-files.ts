import { readFile, rename } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
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

const IsoTime = z.iso.datetime({ offset: true });
const IdentitySchema = z.object({ pid: z.number().int().positive(), start: z.string().nullable() });

/** What the runner asks the supervisor to run. The environment travels through spawn, never to disk. */
export const RunSpecSchema = z.object({
  job_id: z.string().min(1),
  run_token: z.string().min(8),
  command: z.string().min(1),
  args: z.array(z.string()),
  windows_verbatim: z.boolean(),
  cwd: z.string().min(1),
  log_path: z.string().min(1),
  created_at: IsoTime,
});
export type RunSpec = z.infer<typeof RunSpecSchema>;

/** Who is supervising, and the script's process once it runs. */
export const RunStateSchema = z.object({
  job_id: z.string().min(1),
  run_token: z.string().min(8),
  supervisor: IdentitySchema,
  child: IdentitySchema.optional(),
  launched_at: IsoTime.optional(),
});
export type RunState = z.infer<typeof RunStateSchema>;

/** How the script ended, written once by the supervisor after the script and its leftovers are gone. */
export const RunOutcomeSchema = z.object({
  job_id: z.string().min(1),
  run_token: z.string().min(8),
  exit_code: z.number().int().nullable(),
  signal: z.string().nullable(),
  spawn_error: z.string().optional(),
  ended_at: IsoTime,
  /** Processes of the job still alive after the script exited, killed by the supervisor. */
  leftovers_killed: z.number().int().nonnegative().optional(),
});
export type RunOutcome = z.infer<typeof RunOutcomeSchema>;

export function runDir(workDir: string, jobId: string): string {
  return path.join(workDir, RUNS_DIR, jobId);
}

export function runFile(dir: string, name: keyof typeof RUN_FILES): string {
  return path.join(dir, RUN_FILES[name]);
}

/** Reads and validates one run file; undefined when it does not exist. Anything else unreadable throws. */
export async function readRunFile<T>(file: string, schema: z.ZodType<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  }
  return schema.parse(JSON.parse(text));
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
