import { readFile } from "node:fs/promises";
import { pathExists } from "../../protocol/atomic-fs.ts";
import type { AttemptFile, RequestStage } from "./run-folder.ts";
import { listRequests, moveRunFile, REQUEST_STAGES, RUN_LOG, readRunFile, runFile } from "./run-folder.ts";
import type { RunOutcome, RunSpec, RunState } from "./run-schemas.ts";
import { RunOutcomeSchema, RunSpecSchema, RunStateSchema } from "./run-schemas.ts";

/** How far the current attempt of a run got, as its folder shows it now. */
export interface RunView {
  /** The attempt's run token, from its request's file name; undefined for a request written before tokens. */
  token?: string;
  /** The request, under whichever name it has now. */
  spec?: RunSpec;
  /** The supervisor committed to starting the script (launched.<token>.json exists). */
  launched: boolean;
  /** A restarted runner withdrew the request before launch. */
  abandoned: boolean;
  state?: RunState;
  outcome?: RunOutcome;
}

/**
 * The attempt a run folder is at: the launched one (a folder never holds two: a new attempt is only
 * started where none was launched), else the request furthest along. A new attempt's folder is
 * emptied first, so there is normally only one; a tokened request wins over one with plain names.
 * Undefined when nothing was requested.
 */
export async function currentAttempt(
  dir: string,
): Promise<{ stage: RequestStage; token: string | undefined } | undefined> {
  const rank = (request: { stage: RequestStage; token: string | undefined }) =>
    REQUEST_STAGES.indexOf(request.stage) * 2 + (request.token === undefined ? 1 : 0);
  const requests = await listRequests(dir);
  return requests.sort((a, b) => rank(a) - rank(b))[0];
}

/** The path of the current attempt's `name` file (for reading a run folder by hand: tools, tests). */
export async function currentRunFile(dir: string, name: AttemptFile): Promise<string> {
  return runFile(dir, name, (await currentAttempt(dir))?.token);
}

async function firstSpec(dir: string, token: string | undefined): Promise<RunSpec | undefined> {
  for (const name of REQUEST_STAGES) {
    const spec = await readRunFile(runFile(dir, name, token), (raw) => RunSpecSchema.parse(raw));
    if (spec) return spec;
  }
  return undefined;
}

/**
 * Reads the current attempt of a run folder. Files are read outcome first: an outcome seen means the
 * run is over. A state or outcome of another attempt (a supervisor left from a withdrawn one) is never
 * taken for this one's: tokened files by their names, plain ones by the run token they hold.
 */
export async function inspectRun(dir: string): Promise<RunView> {
  const token = (await currentAttempt(dir))?.token;
  const outcome = await readRunFile(runFile(dir, "outcome", token), (raw) => RunOutcomeSchema.parse(raw));
  const state = await readRunFile(runFile(dir, "state", token), (raw) => RunStateSchema.parse(raw));
  const launched = await pathExists(runFile(dir, "launched", token));
  const abandoned = await pathExists(runFile(dir, "abandoned", token));
  const spec = await firstSpec(dir, token);
  const expected = token ?? spec?.run_token;
  const ours = (record: { run_token: string } | undefined) =>
    record !== undefined && (expected === undefined || record.run_token === expected);
  return {
    launched,
    abandoned,
    ...(token !== undefined ? { token } : {}),
    ...(spec ? { spec } : {}),
    ...(ours(state) ? { state } : {}),
    ...(ours(outcome) ? { outcome } : {}),
  };
}

/** Whether any attempt in the folder launched its script (then no other attempt may ever start there). */
export async function anyLaunched(dir: string): Promise<boolean> {
  return (await listRequests(dir)).some((request) => request.stage === "launched");
}

/**
 * Withdraws every run request in the folder that has not been launched: true when no script of the
 * folder ever starts (nothing was requested, or each rename won against its supervisor), false when
 * one was launched.
 */
export async function abandonRun(dir: string): Promise<boolean> {
  let launched = false;
  for (const { stage, token } of await listRequests(dir)) {
    if (stage === "abandoned") continue;
    if (stage !== "launched") {
      if (await moveRunFile(dir, "spec", "abandoned", token)) continue;
      if (await moveRunFile(dir, "claimed", "abandoned", token)) continue;
    }
    // Launched already, or its supervisor won the race to the launch meanwhile.
    if (await pathExists(runFile(dir, "launched", token))) launched = true;
  }
  return !launched;
}

/** The last lines of the supervisor's own error log, for a failure message. */
export async function supervisorLogTail(dir: string, lines = 5): Promise<string> {
  const text = await readFile(runFile(dir, "log"), "utf8").catch(() => "");
  return text.trim().split("\n").slice(-lines).join(" | ") || `(no ${RUN_LOG})`;
}
