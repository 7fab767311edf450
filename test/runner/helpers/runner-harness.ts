import { test } from "vitest";
import type { RunnerConfigInput } from "../../../runner/config.ts";
import { createLogger } from "../../../runner/log.ts";
import type { Runner } from "../../../runner/runner-lifecycle.ts";
import { createRunner } from "../../../runner/runner-lifecycle.ts";
import type { TestQueue } from "./make-job.ts";
import { makeQueue, waitFor } from "./make-job.ts";

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

/**
 * The runner tests' test(): each test gets a fresh queue (`queue`) and `startRunner`, whose runners are
 * stopped with their jobs when the test ends, before the queue is removed.
 */
export const runnerTest = test
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
  .extend("queue", async ({}, { onCleanup }) => {
    const queue = await makeQueue();
    onCleanup(() => queue.cleanup());
    return queue;
  })
  .extend("startRunner", async ({ queue }, { onCleanup }) => {
    // Depends on queue only so that vitest stops the runners before it removes the queue.
    void queue;
    const started: RunningRunner[] = [];
    onCleanup(async () => {
      for (const running of started.splice(0)) await running.stop();
    });
    return async (config: RunnerConfigInput): Promise<RunningRunner> => {
      const running = await startRunner(config);
      started.push(running);
      return running;
    };
  });
