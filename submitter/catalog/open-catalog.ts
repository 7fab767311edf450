import { join, resolve } from "node:path";
import { queuePaths } from "../../protocol/index.ts";
import { VerificationCache } from "../jobs/results-check.ts";
import { DiskCatalog } from "./disk-catalog.ts";
import { IN_MEMORY, moveAside, openIndexDb } from "./index-db.ts";
import { defaultStateDir, indexFileFor, prepareStateDir } from "./index-location.ts";
import { IndexStore } from "./index-store.ts";
import type { CatalogOptions, JobCatalog } from "./job-catalog.ts";
import { WatchedCatalog } from "./watched-catalog.ts";

/** The index file a catalog of `queueRoot` uses (":memory:" when asked to keep it in memory). */
export async function indexPathFor(queueRoot: string, stateDir: string | undefined): Promise<string> {
  const dir = stateDir ?? defaultStateDir();
  if (dir === IN_MEMORY) return IN_MEMORY;
  await prepareStateDir(dir);
  return indexFileFor(dir, queueRoot);
}

/** How long opening waits for the index to be brought up to date before serving anyway. */
const BUILD_WAIT_MS = 3000;

/** An index kept in memory only (the CLI's one-job wait, benchmarks, tests). */
export async function memoryIndexStore(): Promise<IndexStore> {
  return new IndexStore(await openIndexDb(IN_MEMORY, () => {}));
}

/** The catalog of a folder queue: "watched" resolves once the index is up to date and the watches stand. */
export async function openCatalog(options: CatalogOptions): Promise<JobCatalog> {
  const root = resolve(options.queueRoot);
  const target = { queue: queuePaths(root), stagingDir: options.stagingDir ?? join(root, ".staging") };
  const verification = new VerificationCache();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const path = await indexPathFor(root, options.stateDir);
  const opened = await openIndexDb(path, log);
  const reopen = async (damage: unknown) => {
    await moveAside(path, damage, log);
    return new IndexStore(await openIndexDb(path, log));
  };
  const store = new IndexStore(opened);
  if (options.kind === "disk") return new DiskCatalog(target, verification, store, false, reopen);
  return openWatched(new WatchedCatalog(target, verification, store, true, reopen), path, log, options);
}

async function openWatched(
  catalog: WatchedCatalog,
  path: string,
  log: (line: string) => void,
  options: CatalogOptions,
): Promise<WatchedCatalog> {
  const started = catalog.start();
  // An index up to date after a restart is ready at once; a first build over a large queue is not:
  // the server answers meanwhile rather than keep every agent waiting a minute at 100,000 jobs.
  const ready = await Promise.race([
    started.then(() => true),
    new Promise<false>((resolve) =>
      setTimeout(() => resolve(false), options.buildWaitMs ?? BUILD_WAIT_MS).unref(),
    ),
  ]).catch(async (error: unknown) => {
    await catalog.close();
    throw error;
  });
  if (!ready) {
    const { read, planned } = catalog.index.building ?? { read: 0, planned: 0 };
    log(
      `job index: reading the queue folders into ${path} (${read} of ${planned} jobs so far) while serving; listings say they are incomplete until it is done`,
    );
    catalog.continueInBackground(started, log);
  }
  return catalog;
}
