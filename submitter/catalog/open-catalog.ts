import { join, resolve } from "node:path";
import { queuePaths } from "../../protocol/index.ts";
import { VerificationCache } from "../jobs/results-check.ts";
import { DiskCatalog } from "./disk-catalog.ts";
import { IN_MEMORY, openIndexDb } from "./index-db.ts";
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
  const opened = await openIndexDb(await indexPathFor(root, options.stateDir), log);
  const store = new IndexStore(opened);
  if (options.kind === "disk") return new DiskCatalog(target, verification, store, false);
  const catalog = new WatchedCatalog(target, verification, store, true);
  try {
    await catalog.start();
  } catch (error) {
    await catalog.close();
    throw error;
  }
  return catalog;
}
