import type { RunnerConfigInput } from "../../../runner/config.ts";
import { createLogger } from "../../../runner/log.ts";
import type { Runner } from "../../../runner/runner-lifecycle.ts";
import { createRunner } from "../../../runner/runner-lifecycle.ts";
import type { TestQueue } from "./make-job.ts";
import { waitFor } from "./make-job.ts";

export interface RunningRunner {
  runner: Runner;
  lines: string[];
  /** Waits for a log line containing every fragment. */
  waitForLog(...fragments: string[]): Promise<string>;
  /** Stops the runner and its jobs (a test must not leave supervised scripts behind). */
  stop(): Promise<void>;
}

/** Fast test timings: heartbeats and rescans twice a second. */
export function testConfig(
  queue: TestQueue,
  python: string,
  overrides: Partial<RunnerConfigInput> = {},
): RunnerConfigInput {
  return {
    queueDir: queue.paths.root,
    workDir: queue.work,
    stateDir: queue.state,
    python,
    host: "test-host",
    heartbeatS: 0.5,
    rescanS: 0.3,
    killGraceS: 2,
    cleanupDelayS: 0,
    workRetentionS: 0,
    ...overrides,
  };
}

export async function startRunner(config: RunnerConfigInput): Promise<RunningRunner> {
  const lines: string[] = [];
  const log = createLogger({ write: (line: string) => lines.push(line) });
  const runner = createRunner(config, { log });
  await runner.start();
  return {
    runner,
    lines,
    waitForLog: (...fragments) =>
      waitFor(
        () => `a log line with ${fragments.join(" + ")}; log so far:\n${lines.join("")}`,
        () => lines.find((line) => fragments.every((fragment) => line.includes(fragment))),
      ),
    stop: () => runner.stop({ stopJobs: true }),
  };
}
