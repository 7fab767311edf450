import { readFile } from "node:fs/promises";
import { pathExists } from "../../protocol/atomic-fs.ts";
import { moveRunFile, RUN_FILES, readRunFile, runFile } from "./run-folder.ts";
import type { RunOutcome, RunSpec, RunState } from "./run-schemas.ts";
import { RunOutcomeSchema, RunSpecSchema, RunStateSchema } from "./run-schemas.ts";

/** How far a run got, as its folder shows it now. */
export interface RunView {
  /** The request, under whichever name it has now. */
  spec?: RunSpec;
  /** The supervisor committed to starting the script (launched.json exists). */
  launched: boolean;
  /** A restarted runner withdrew the request before launch. */
  abandoned: boolean;
  state?: RunState;
  outcome?: RunOutcome;
}

async function firstSpec(dir: string): Promise<RunSpec | undefined> {
  for (const name of ["launched", "claimed", "spec", "abandoned"] as const) {
    const spec = await readRunFile(runFile(dir, name), (raw) => RunSpecSchema.parse(raw));
    if (spec) return spec;
  }
  return undefined;
}

/** Reads a run folder. Files are read outcome first: an outcome seen means the run is over. */
export async function inspectRun(dir: string): Promise<RunView> {
  const outcome = await readRunFile(runFile(dir, "outcome"), (raw) => RunOutcomeSchema.parse(raw));
  const state = await readRunFile(runFile(dir, "state"), (raw) => RunStateSchema.parse(raw));
  const launched = await pathExists(runFile(dir, "launched"));
  const abandoned = await pathExists(runFile(dir, "abandoned"));
  const spec = await firstSpec(dir);
  return {
    launched,
    abandoned,
    ...(spec ? { spec } : {}),
    ...(state ? { state } : {}),
    ...(outcome ? { outcome } : {}),
  };
}

/**
 * Withdraws a run request that has not been launched: true when the script provably never starts
 * (nothing was requested, or the rename won against the supervisor), false when it was launched.
 */
export async function abandonRun(dir: string): Promise<boolean> {
  if (await moveRunFile(dir, "spec", "abandoned")) return true;
  if (await moveRunFile(dir, "claimed", "abandoned")) return true;
  if (await pathExists(runFile(dir, "launched"))) return false;
  // Neither name was there: either no request was ever written, or it was withdrawn already.
  return true;
}

/** The last lines of the supervisor's own error log, for a failure message. */
export async function supervisorLogTail(dir: string, lines = 5): Promise<string> {
  const text = await readFile(runFile(dir, "log"), "utf8").catch(() => "");
  return text.trim().split("\n").slice(-lines).join(" | ") || `(no ${RUN_FILES.log})`;
}
