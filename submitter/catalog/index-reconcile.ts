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

/** How far a reconcile has got: a first build of a large queue is reported while it runs. */
export interface ReconcileProgress {
  planned: number;
  read: number;
}

export interface ReconcileTarget {
  queue: QueuePaths;
  store: IndexStore;
  /** Reads jobs' files (with archive folders just found) and stores what they prove, in one short write. */
  readMany(ids: readonly string[], archiveNames: ReadonlyMap<string, readonly string[]>): Promise<void>;
  progress: ReconcileProgress;
  /** The index was closed: stop reading. */
  closed(): boolean;
}

export interface ReconcileOutcome {
  /** The root was listed (its stamp had moved, or `force`). */
  listed: boolean;
  /** Names that appeared in it since the index last saw it. */
  added: string[];
  /** Job ids read again. */
  read: number;
}

/** How often a batch is tried again when another process holds the index past its busy timeout. */
const BUSY_RETRIES = 6;

function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: number }).errcode;
  return code !== undefined && [5, 6].includes(code & 0xff);
}

/**
 * Reads `ids` in batches of 32, each stored in one transaction with the archive folders found for its
 * jobs: a name is never stored without its job having been read (a build cut short would otherwise
 * skip those jobs for good). A batch that meets the index locked is tried again.
 */
async function inBatches(
  target: ReconcileTarget,
  ids: readonly string[],
  names: ReadonlyMap<string, readonly string[]> = new Map(),
): Promise<void> {
  target.progress.planned += ids.length;
  for (let i = 0; i < ids.length && !target.closed(); i += READ_CONCURRENCY) {
    const slice = ids.slice(i, i + READ_CONCURRENCY);
    for (let attempt = 0; ; attempt++) {
      try {
        await target.readMany(slice, names);
        break;
      } catch (error) {
        if (!isBusy(error) || attempt >= BUSY_RETRIES) throw error;
      }
    }
    target.progress.read += slice.length;
  }
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
  const names = new Map<string, string[]>();
  const jobOf = (name: string) => (root === "archive" ? parseArchiveDirName(name)?.job_id : name);
  for (const name of added) {
    const jobId = jobOf(name);
    if (jobId === undefined) continue;
    if (root === "archive") names.set(jobId, [...(names.get(jobId) ?? []), name]);
    ids.add(jobId);
  }
  for (const name of gone) {
    const jobId = jobOf(name);
    if (jobId !== undefined) ids.add(jobId);
  }
  await inBatches(target, [...ids], names);
  if (target.closed()) return { listed: true, added, read: ids.size };
  target.store.setStamp(root, settledStamp(stamp, listedAt));
  return { listed: true, added, read: ids.size };
}

/** Live jobs read before a start answers; the others are read while it serves. */
export const LIVE_BEFORE_ANSWER = READ_CONCURRENCY;
const REST_DELAY_MS = 1000;

export interface QueueReconcile {
  outcomes: ReconcileOutcome[];
  /**
   * Reading the remaining live jobs (not final, or results still arriving). A queue with thousands of
   * them (a benchmark's, or a cluster that queued a great deal) answers first: a listing checks the
   * rows it shows against their files anyway, and every `get` reads files.
   */
  rest: Promise<void>;
}

/** Every root, then the jobs whose inbox folder can still change (the runner may have moved them on). */
export async function reconcileQueue(
  target: ReconcileTarget,
  force = false,
  liveBeforeAnswer = LIVE_BEFORE_ANSWER,
): Promise<QueueReconcile> {
  const outcomes: ReconcileOutcome[] = [];
  for (const root of QUEUE_ROOTS) outcomes.push(await reconcileRoot(target, root, force));
  const live = target.store.liveIds();
  await inBatches(target, live.slice(0, liveBeforeAnswer));
  const later = live.slice(liveBeforeAnswer);
  // Begun a moment after the start answers, so the first calls are not queued behind thousands of reads.
  const rest =
    later.length === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => setTimeout(resolve, REST_DELAY_MS).unref()).then(() =>
          inBatches(target, later),
        );
  return { outcomes, rest };
}
