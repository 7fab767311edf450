import { join, resolve } from "node:path";
import { queuePaths } from "../../protocol/index.ts";
import { VerificationCache } from "../jobs/results-check.ts";
import { DiskCatalog } from "./disk-catalog.ts";
import type { CatalogOptions, JobCatalog } from "./job-catalog.ts";
import { WatchedCatalog } from "./watched-catalog.ts";

/** The catalog of a folder queue: "watched" resolves once the initial scan is done. */
export async function openCatalog(options: CatalogOptions): Promise<JobCatalog> {
  const root = resolve(options.queueRoot);
  const target = { queue: queuePaths(root), stagingDir: options.stagingDir ?? join(root, ".staging") };
  const verification = new VerificationCache();
  if (options.kind === "disk") return new DiskCatalog(target, verification);
  const catalog = new WatchedCatalog(target, verification);
  try {
    await catalog.start();
  } catch (error) {
    await catalog.close();
    throw error;
  }
  return catalog;
}
