import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { initQueue } from "../../protocol/index.ts";
import type { OutboxWatcher } from "../../runner/outbox-watcher.ts";
import { watchOutbox } from "../../runner/outbox-watcher.ts";
import { runnerPaths } from "../../runner/paths.ts";
import { waitFor } from "./helpers/make-job.ts";

describe("watchOutbox", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  // An hour between rescans: only the watcher itself can report these changes.
  const watchFresh = async (withCancelDir: boolean) => {
    const root = await mkdtemp(join(tmpdir(), "atomizer-watch-"));
    const queue = await initQueue(join(root, "queue"));
    if (withCancelDir) await mkdir(queue.cancelDir);
    const seen = { entries: [] as string[], cancels: [] as string[] };
    const watcher: OutboxWatcher = watchOutbox(
      runnerPaths(queue.root, join(root, "work"), join(root, "state")),
      3_600_000,
      {
        onEntry: (name) => seen.entries.push(name),
        onCancel: (jobId) => seen.cancels.push(jobId),
        onRescan: () => {},
        onError: (error) => {
          throw error;
        },
      },
    );
    cleanups.push(async () => {
      await watcher.close();
      await rm(root, { recursive: true, force: true });
    });
    // Touch a new name until the watch reports one: it is live from then on.
    let touches = 0;
    await waitFor("the watcher to start", async () => {
      if (seen.entries.length > 0) return true;
      await writeFile(join(queue.outbox, `warmup-${touches++}`), "");
      return undefined;
    });
    return { queue, seen };
  };

  it.each([
    { withCancelDir: true, when: "exists at start" },
    { withCancelDir: false, when: "is created by the first cancel request" },
  ])("reports cancel requests when outbox/.cancel $when", async ({ withCancelDir }) => {
    const { queue, seen } = await watchFresh(withCancelDir);
    await mkdir(queue.cancelDir, { recursive: true });
    await writeFile(join(queue.cancelDir, "job-20260210-143022-starspec-wfe.json"), "{}");
    await waitFor("the first cancel request", () => (seen.cancels.length > 0 ? true : undefined), 10_000);
    await writeFile(join(queue.cancelDir, "job-20260210-143023-starspec-wfe.json"), "{}");
    const second = "job-20260210-143023-starspec-wfe";
    await waitFor(
      "the second cancel request",
      () => (seen.cancels.includes(second) ? true : undefined),
      10_000,
    );
    // A request can be reported twice (watch event and the folder's first listing); handling is idempotent.
    expect([...new Set(seen.cancels)]).toEqual([
      "job-20260210-143022-starspec-wfe",
      "job-20260210-143023-starspec-wfe",
    ]);
  });
});
