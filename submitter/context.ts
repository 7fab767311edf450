import { realpath, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { QueuePaths } from "../protocol/index.ts";
import { checkQueueLayout, queuePaths } from "../protocol/index.ts";
import { JobIndex } from "./jobs/job-index.ts";
import { VerificationCache } from "./jobs/results-check.ts";
import { cleanStaleStaging } from "./jobs/staging-dirs.ts";
import { KeyedLock } from "./keyed-lock.ts";

/** Everything an operation needs, passed in explicitly: no module state. */
export interface ServerContext {
  queue: QueuePaths;
  /** <queue>/.staging: same filesystem as outbox/ and archive/, outside the synced folders. */
  stagingDir: string;
  /** Local copies for fetch_results, outside the synced folders. */
  workDir: string;
  /** Real paths study_dir must lie under; none means submit_job refuses everything. */
  allowRoots: string[];
  /** The long-running server's index; the one-shot CLI runs without one. */
  index: JobIndex | undefined;
  verification: VerificationCache;
  /** Serialises submissions that share an idempotency_key within this process. */
  submitLocks: KeyedLock;
  now: () => Date;
  close: () => Promise<void>;
}

export interface ContextOptions {
  queueRoot: string;
  workDir?: string;
  /** Folders study_dir may be in. None by default: a server started in / must not make the host submittable. */
  allow?: readonly string[];
  /** Keep an in-memory index with a watcher (the MCP server); false for one-shot CLI commands. */
  withIndex: boolean;
}

/** Checks the queue layout and allowed roots; a bad setup fails here, clearly, before serving anything. */
export async function createServerContext(options: ContextOptions): Promise<ServerContext> {
  const root = resolve(options.queueRoot);
  const problems = await checkQueueLayout(root);
  if (problems.length > 0) throw new Error(`queue root is not usable:\n  ${problems.join("\n  ")}`);
  const allowRoots: string[] = [];
  for (const dir of options.allow ?? []) {
    try {
      const real = await realpath(resolve(dir));
      if (!(await stat(real)).isDirectory()) throw new Error("not a folder");
      allowRoots.push(real);
    } catch (error) {
      throw new Error(`--allow ${dir} is not an existing folder (${(error as Error).message})`);
    }
  }
  const queue = queuePaths(root);
  const stagingDir = join(root, ".staging");
  // Killed submits and archives leave their folders here; only provably abandoned ones go (see there).
  await cleanStaleStaging(stagingDir);
  const index = options.withIndex ? new JobIndex(queue) : undefined;
  if (index) await index.start();
  return {
    queue,
    stagingDir,
    workDir: resolve(options.workDir ?? join(root, ".work")),
    allowRoots,
    index,
    verification: new VerificationCache(),
    submitLocks: new KeyedLock(),
    now: () => new Date(),
    close: async () => {
      await index?.close();
    },
  };
}
