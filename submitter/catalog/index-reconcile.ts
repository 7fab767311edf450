import type { QueuePaths } from "../../protocol/index.ts";
import {
  dirStamp,
  jobFolderNames,
  listArchiveDirs,
  parseArchiveDirName,
  sameStamp,
  settledStamp,
} from "../../protocol/index.ts";
import type { IndexStore, RootName } from "./index-store.ts";

export const QUEUE_ROOTS: readonly RootName[] = ["outbox", "inbox", "archive"];

const READ_CONCURRENCY = 32;

export interface ReconcileTarget {
  queue: QueuePaths;
  store: IndexStore;
  /** Reads one job's files again and stores what they prove. */
  refresh(jobId: string): Promise<void>;
}

export interface ReconcileOutcome {
  /** The root was listed (its stamp had moved, or `force`). */
  listed: boolean;
  /** Names that appeared in it since the index last saw it. */
  added: string[];
  /** Job ids read again. */
  read: number;
}

async function inBatches(ids: readonly string[], work: (id: string) => Promise<void>): Promise<void> {
  for (let i = 0; i < ids.length; i += READ_CONCURRENCY)
    await Promise.all(ids.slice(i, i + READ_CONCURRENCY).map(work));
}

/**
 * Brings the index up to one root's listing: a folder whose stamp has not moved since a settled
 * listing cannot have gained or lost an entry, so it is not even listed; otherwise the listing is
 * compared with what the index believes the root holds and only the differences are read. Finished
 * jobs whose folders stayed put are never read at start-up, however many there are.
 */
export async function reconcileRoot(
  target: ReconcileTarget,
  root: RootName,
  force = false,
): Promise<ReconcileOutcome> {
  const dir = target.queue[root];
  const stamp = await dirStamp(dir);
  if (!force && sameStamp(stamp, target.store.stamp(root))) return { listed: false, added: [], read: 0 };
  const listedAt = Date.now();
  const listed =
    root === "archive" ? (await listArchiveDirs(dir)).map((found) => found.name) : await jobFolderNames(dir);
  const known = target.store.namesIn(root);
  const added: string[] = [];
  for (const name of listed) if (!known.delete(name)) added.push(name);
  const gone = [...known];
  known.clear();
  const ids = new Set<string>();
  const jobOf = (name: string) => (root === "archive" ? parseArchiveDirName(name)?.job_id : name);
  for (const name of added) {
    const jobId = jobOf(name);
    if (jobId === undefined) continue;
    if (root === "archive") target.store.addArchiveName(name, jobId);
    ids.add(jobId);
  }
  for (const name of gone) {
    const jobId = jobOf(name);
    if (jobId !== undefined) ids.add(jobId);
  }
  await inBatches([...ids], (id) => target.refresh(id));
  target.store.setStamp(root, settledStamp(stamp, listedAt));
  return { listed: true, added, read: ids.size };
}

/** Every root, then every job whose inbox folder can still change (the runner may have moved it on). */
export async function reconcileQueue(target: ReconcileTarget, force = false): Promise<ReconcileOutcome[]> {
  const outcomes: ReconcileOutcome[] = [];
  for (const root of QUEUE_ROOTS) outcomes.push(await reconcileRoot(target, root, force));
  const live = target.store.liveIds();
  await inBatches(live, (id) => target.refresh(id));
  return outcomes;
}
