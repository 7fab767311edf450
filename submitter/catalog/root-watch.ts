import { mkdir } from "node:fs/promises";
import { basename, relative, sep } from "node:path";
import type { FSWatcher } from "chokidar";
import { watch } from "chokidar";
import type { QueuePaths } from "../../protocol/index.ts";
import { isJobId, parseArchiveDirName } from "../../protocol/index.ts";

export type RootName = "outbox" | "inbox" | "archive";

/** A job folder that appeared, changed or vanished directly in outbox/, inbox/ or archive/. */
export interface RootEntry {
  root: RootName;
  event: string;
  /** The folder's name (archive/<job_id>-<stamp> for archives). */
  name: string;
  jobId: string;
}

const ROOTS: readonly RootName[] = ["outbox", "inbox", "archive"];

function locate(queue: QueuePaths, path: string): { root: RootName; segments: string[] } | undefined {
  for (const root of ROOTS) {
    const rel = relative(queue[root], path);
    if (rel === "") return { root, segments: [] };
    if (!rel.startsWith("..") && !rel.startsWith(sep)) return { root, segments: rel.split(sep) };
  }
  return undefined;
}

export function jobIdOfEntry(root: RootName, name: string): string | undefined {
  if (root === "archive") return parseArchiveDirName(name)?.job_id;
  return name.startsWith("job-") ? name : undefined;
}

function ready(watcher: FSWatcher): Promise<FSWatcher> {
  return new Promise((resolve) => watcher.once("ready", () => resolve(watcher)));
}

/**
 * outbox/, inbox/ and archive/ themselves, at depth 0: outbox and archive folders are published whole
 * by rename from this side (PROTOCOL.md), so their addDir/unlinkDir says all there is, and inbox/<id>/
 * appearing or vanishing is seen here too. Resolves once the watch stands.
 */
export function watchQueueRoots(
  queue: QueuePaths,
  only: string | undefined,
  onEntry: (entry: RootEntry) => void,
): Promise<FSWatcher> {
  const ignored = (path: string): boolean => {
    const located = locate(queue, path);
    const [first, second] = located?.segments ?? [];
    if (!located || first === undefined) return false;
    const jobId = jobIdOfEntry(located.root, first);
    if (jobId === undefined || (only !== undefined && jobId !== only)) return true;
    return second !== undefined;
  };
  const watcher = watch([queue.outbox, queue.inbox, queue.archive], {
    depth: 0,
    // Like the scan (Dirent.isDirectory), a link is never a job folder; and following links costs
    // a realpath per folder, ~50 MB of RSS at 10,000 jobs.
    followSymlinks: false,
    ignoreInitial: true,
    ignored,
  });
  watcher.on("all", (event, path) => {
    const located = locate(queue, path);
    const name = located?.segments[0];
    if (!located || name === undefined || located.segments.length > 1) return;
    const jobId = jobIdOfEntry(located.root, name);
    if (jobId !== undefined) onEntry({ root: located.root, event, name, jobId });
  });
  watcher.on("error", () => {
    // A vanished or locked folder is re-read on its next event; the watcher keeps running.
  });
  return ready(watcher);
}

/** .state/fetched/<id>.json appearing or rewritten (fetch_results' receipts); made first, as chokidar needs. */
export async function watchReceipts(
  fetchedDir: string,
  onReceipt: (jobId: string) => void,
): Promise<FSWatcher> {
  await mkdir(fetchedDir, { recursive: true });
  const watcher = watch(fetchedDir, { depth: 0, ignoreInitial: true });
  watcher.on("all", (event, path) => {
    const name = basename(path);
    const jobId = name.endsWith(".json") ? name.slice(0, -".json".length) : "";
    if ((event === "add" || event === "change") && isJobId(jobId)) onReceipt(jobId);
  });
  watcher.on("error", () => {
    // The next receipt, or the subscriber's rescan, reports what was missed.
  });
  return ready(watcher);
}
