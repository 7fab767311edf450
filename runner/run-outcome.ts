import type { JobError, TerminalStatus } from "../protocol/index.ts";
import type { StopReason } from "./context.ts";

/** How a job's script ended, as its supervisor recorded it (or the runner decided, when nothing was recorded). */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the script could not be started at all (interpreter not found, ...). */
  spawnError?: string;
  /** When the script ended, as its supervisor recorded it. */
  endedAt?: string;
}

/**
 * How a run ended, as its job.json says it: a stop the runner decided (cancel, timeout, restart) wins
 * over the exit, unless the script had exited cleanly before it; then a failed start; then the exit code.
 */
export function runOutcome(
  exit: ProcessExit,
  stopReason: StopReason | undefined,
  tail: string[],
): { status: TerminalStatus; error?: JobError } {
  // A script that finished cleanly before the runner decided to stop it completed: the stop came late.
  const endedFirst =
    exit.code === 0 && exit.signal === null && exit.endedAt !== undefined && stopReason?.at !== undefined
      ? Date.parse(exit.endedAt) <= Date.parse(stopReason.at)
      : false;
  const stop = endedFirst ? undefined : stopReason;
  if (stop?.kind === "cancelled")
    return { status: "cancelled", error: { kind: "cancelled", message: stop.message, log_tail: tail } };
  if (stop) return { status: "failed", error: { kind: stop.kind, message: stop.message, log_tail: tail } };
  if (exit.spawnError !== undefined) {
    return {
      status: "failed",
      error: {
        kind: "spawn_error",
        message: `could not start the script: ${exit.spawnError}; check --python and the script type`,
        log_tail: tail,
      },
    };
  }
  if (exit.code === 0) return { status: "completed" };
  const how =
    exit.code === null ? `was killed by signal ${exit.signal ?? "unknown"}` : `exited with code ${exit.code}`;
  return {
    status: "failed",
    error: { kind: "exit_code", message: `the script ${how}; see log_tail and stdout.log`, log_tail: tail },
  };
}
