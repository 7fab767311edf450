// The runner as its own `atomizer-jobs runner` process, for the tests that kill, restart or race it,
// and their test(): the runner tests' queue plus the processes a test leaves behind on purpose.
import type { CliProcess } from "../../helpers/atomizer-jobs.ts";
import { startAtomizerJobs } from "../../helpers/atomizer-jobs.ts";
import type { TestQueue } from "./make-job.ts";
import { folderArgs } from "./make-job.ts";
import { runnerTest } from "./runner-harness.ts";

export interface RunnerProcessOptions {
  /** `--queue --work --state` (default: the test queue's own). */
  folders?: string[];
  cwd?: string;
  heartbeatS?: number;
}

/** `atomizer-jobs runner` on `queue` with python3 and fast heartbeats and rescans; `extra` flags last. */
export function startRunnerProcess(
  queue: TestQueue,
  extra: string[] = [],
  { folders = folderArgs(queue), cwd, heartbeatS = 0.3 }: RunnerProcessOptions = {},
): CliProcess {
  const timings = ["--heartbeat", String(heartbeatS), "--rescan", "0.3"];
  return startAtomizerJobs(
    ["runner", ...folders, "--python", "python3", ...timings, ...extra],
    cwd ? { cwd } : {},
  );
}

/** SIGKILLs `pid` with its process group, if it has one: a script's own children go with it. */
function killLeftover(pid: number): void {
  // pid 0 (a spawn that failed) would signal this very process group.
  if (pid <= 0) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // Gone, as it should be.
    }
  }
}

/**
 * runnerTest with `strays`: pids a test leaves behind (supervisors, scripts, strangers), killed when it
 * ends, before the queue is removed.
 */
export const processTest = runnerTest.extend("strays", ({ queue }, { onCleanup }) => {
  // Depends on queue only so that vitest kills the strays before it removes the queue.
  void queue;
  const pids: number[] = [];
  onCleanup(() => {
    for (const pid of pids.splice(0)) killLeftover(pid);
  });
  return pids;
});
