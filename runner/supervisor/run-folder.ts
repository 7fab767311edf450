import { readdir, readFile, rename } from "node:fs/promises";
import path from "node:path";
import { withFsRetry, writeJsonAtomic } from "../../protocol/atomic-fs.ts";
import { errnoCode } from "../../protocol/errors.ts";

/**
 * The files of one supervised run, in `<work>/.runs/<job_id>/` (local, never synced). Each attempt at
 * the run (a first start, then one per requeue) has its own run token, and every file of the attempt
 * carries it in its name. The request moves through three names by atomic renames, so the runner and
 * the supervisor can never both believe they decided whether the script starts:
 *
 *   spec.<token>.json --supervisor claims--> claimed.<token>.json --supervisor commits--> launched.<token>.json
 *   spec.<token>.json | claimed.<token>.json --a restarted runner gives up--> abandoned.<token>.json
 *
 * The supervisor is told its token on its command line and renames only files of that token, so a
 * supervisor left alive from a withdrawn attempt can never claim or launch the next attempt's request;
 * its identity and outcome go to `state.<token>.json` and `outcome.<token>.json`, which readers take
 * only for the attempt the request files name. `launched.<token>.json` exists before the script is
 * spawned, and `state.<token>.json` before that, so an attempt without it provably never started its script.
 *
 * A folder written before tokens (`spec.json`, `launched.json`, `state.json`, ... by an earlier runner
 * that was upgraded mid-run) is still read and adopted: its files are the attempt of token `undefined`.
 */
export const RUNS_DIR = ".runs";

/** The names a request has as it moves, in the order readers look for the attempt's current one. */
export const REQUEST_STAGES = ["launched", "claimed", "spec", "abandoned"] as const;
export type RequestStage = (typeof REQUEST_STAGES)[number];
/** The files of one attempt: its request under each name, the supervisor's identities, the outcome. */
export type AttemptFile = RequestStage | "state" | "outcome";

/** The supervisor's own error log, shared by the folder's attempts (each line says which step). */
export const RUN_LOG = "supervisor.log";

/**
 * What a run token may be: it goes into file names (short, and valid on Windows: no dots, no reserved
 * characters) and into the environment of every process of the script.
 */
export const RUN_TOKEN_PATTERN = /^[A-Za-z0-9-]{8,64}$/;

const FILE_NAME = /^(launched|claimed|spec|abandoned|state|outcome)(?:\.([A-Za-z0-9-]{8,64}))?\.json$/;

/** Names every descendant of the script inherits, so leftovers can be found after the tree link is gone. */
export const RUN_TOKEN_ENV = "ATOMIZER_RUN_TOKEN";

export function runDir(workDir: string, jobId: string): string {
  return path.join(workDir, RUNS_DIR, jobId);
}

/** The file name of one attempt's file; `token` undefined: the name before tokens (`spec.json`, ...). */
export function attemptFileName(name: AttemptFile, token: string | undefined): string {
  if (token !== undefined && !RUN_TOKEN_PATTERN.test(token))
    throw new Error(`not a run token: ${JSON.stringify(token)}`);
  return token === undefined ? `${name}.json` : `${name}.${token}.json`;
}

/** The path of one attempt's file, or (`log`) of the supervisor's log. */
export function runFile(dir: string, name: AttemptFile | "log", token?: string): string {
  return path.join(dir, name === "log" ? RUN_LOG : attemptFileName(name, token));
}

/** What a file name in a run folder says: which file of which attempt (token undefined: before tokens). */
export function parseRunFileName(name: string): { file: AttemptFile; token: string | undefined } | undefined {
  const match = FILE_NAME.exec(name);
  if (!match) return undefined;
  return { file: match[1] as AttemptFile, token: match[2] };
}

/** The request files in a run folder now: each attempt's token and its request's current name. */
export async function listRequests(
  dir: string,
): Promise<{ stage: RequestStage; token: string | undefined }[]> {
  let names: string[];
  try {
    names = await withFsRetry(() => readdir(dir));
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw error;
  }
  const requests: { stage: RequestStage; token: string | undefined }[] = [];
  for (const name of names) {
    const parsed = parseRunFileName(name);
    if (parsed && (REQUEST_STAGES as readonly string[]).includes(parsed.file))
      requests.push({ stage: parsed.file as RequestStage, token: parsed.token });
  }
  return requests;
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

/** Renames one of an attempt's request files to another; false when the source is not there (the other side moved it first). */
export async function moveRunFile(
  dir: string,
  from: RequestStage,
  to: RequestStage,
  token: string | undefined,
): Promise<boolean> {
  try {
    // Retried: on Windows an antivirus scan holds a fresh file for a moment (EPERM/EBUSY).
    await withFsRetry(() => rename(runFile(dir, from, token), runFile(dir, to, token)));
    return true;
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return false;
    throw error;
  }
}
