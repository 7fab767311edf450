import { expect, test } from "vitest";
import type { StopReason } from "../../runner/context.ts";
import type { ProcessExit } from "../../runner/run-outcome.ts";
import { runOutcome } from "../../runner/run-outcome.ts";

const TAIL = ["last line"];
const STOP_AT = "2026-02-10T15:00:00.000Z";
const BEFORE = "2026-02-10T14:59:59.000Z";
const AFTER = "2026-02-10T15:00:01.000Z";
const clean = (endedAt?: string): ProcessExit => ({
  code: 0,
  signal: null,
  ...(endedAt ? { endedAt } : {}),
});
const cancel: StopReason = { kind: "cancelled", message: "cancelled at the request of ops", at: STOP_AT };
const timeout: StopReason = { kind: "timeout", message: "ran longer than 60 s", at: STOP_AT };
const restart: StopReason = { kind: "runner_restart", message: "the supervisor is gone" };

test.each<{
  name: string;
  exit: ProcessExit;
  stop?: StopReason;
  status: string;
  kind?: string;
  message?: RegExp;
}>([
  { name: "exit 0", exit: clean(), status: "completed" },
  {
    name: "exit 3",
    exit: { code: 3, signal: null },
    status: "failed",
    kind: "exit_code",
    message: /exited with code 3/,
  },
  {
    name: "killed by a signal",
    exit: { code: null, signal: "SIGKILL" },
    status: "failed",
    kind: "exit_code",
    message: /killed by signal SIGKILL/,
  },
  {
    name: "never started",
    exit: { code: null, signal: null, spawnError: "python3: not found" },
    status: "failed",
    kind: "spawn_error",
    message: /could not start the script: python3: not found; check --python/,
  },
  {
    name: "cancelled",
    exit: { code: null, signal: "SIGTERM" },
    stop: cancel,
    status: "cancelled",
    kind: "cancelled",
  },
  {
    name: "timed out",
    exit: { code: null, signal: "SIGTERM" },
    stop: timeout,
    status: "failed",
    kind: "timeout",
  },
  {
    name: "lost to a restart (no outcome)",
    exit: { code: null, signal: null },
    stop: restart,
    status: "failed",
    kind: "runner_restart",
  },
  {
    name: "exit 0 before the stop was decided: the stop came late",
    exit: clean(BEFORE),
    stop: cancel,
    status: "completed",
  },
  {
    name: "exit 0 after the stop was decided",
    exit: clean(AFTER),
    stop: timeout,
    status: "failed",
    kind: "timeout",
  },
  {
    name: "a stop wins over a failed start",
    exit: { code: null, signal: null, spawnError: "x" },
    stop: cancel,
    status: "cancelled",
    kind: "cancelled",
  },
])("$name: $status", ({ exit, stop, status, kind, message }) => {
  const end = runOutcome(exit, stop, TAIL);
  expect(end.status).toBe(status);
  expect(end.error?.kind).toBe(kind);
  if (kind) expect(end.error?.log_tail).toEqual(TAIL);
  if (message) expect(end.error?.message).toMatch(message);
  if (stop && kind === stop.kind) expect(end.error?.message).toBe(stop.message);
});
