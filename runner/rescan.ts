import { readdir } from "node:fs/promises";
import type { DirStamp } from "../protocol/index.ts";
import { dirStamp, errnoCode, sameStamp, settledStamp } from "../protocol/index.ts";
import { cleanupFinished } from "./cleanup.ts";
import type { RunnerContext } from "./context.ts";
import { considerCancel, considerEntry } from "./outbox-events.ts";

/**
 * outbox/ is listed whatever its stamp says at least this often: the stamp proves an unchanged listing
 * where the file system keeps a folder's ctime honestly, and this bounds the cost where it does not.
 */
export const FULL_RESCAN_MS = 5 * 60_000;

/** What the rescans remember between them, so an idle queue costs two lstats per rescan. */
export interface RescanMemory {
  /** outbox/'s stamp at the last listing that can be trusted again (see settledStamp). */
  outbox?: DirStamp;
  /** Names of that listing the ledger did not know (waiting for files, or not jobs): looked at each time. */
  unknown: string[];
  cancels?: DirStamp;
  /** Cancel requests of the last .cancel/ listing whose jobs had not finished. */
  openCancels: string[];
  /** When outbox/ was last listed regardless of its stamp. */
  fullAt: number;
}

export function newRescanMemory(): RescanMemory {
  return { unknown: [], openCancels: [], fullAt: Number.NEGATIVE_INFINITY };
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw error;
  }
}

/**
 * `dir`'s names, or undefined when its stamp equals the one remembered (the listing is unchanged).
 * The stamp is taken before the listing, and remembered only once it is old enough to be trusted.
 */
export async function listIfChanged(
  dir: string,
  remembered: DirStamp | undefined,
  force: boolean,
): Promise<{ names: string[]; stamp: DirStamp | undefined } | undefined> {
  // The file system's clock, not the runner's (tests set ctx.now): ctime is compared with it.
  const listedAt = Date.now();
  const stamp = await dirStamp(dir);
  if (!force && sameStamp(stamp, remembered)) return undefined;
  return { names: await listNames(dir), stamp: settledStamp(stamp, listedAt) };
}

type Guard = (ctx: RunnerContext, what: string, jobId?: string) => (error: unknown) => void;

/**
 * The safety net behind the watches: one look at every outbox entry the ledger does not know, every
 * cancel request of a job not finished, and the cleanup of finished jobs. outbox/ (100,000 entries
 * over a long history) is listed only when its stamp changed, or every FULL_RESCAN_MS; otherwise the
 * few names not taken yet are looked at again. Each job is looked at in its own serial lane.
 */
export async function rescanQueue(ctx: RunnerContext, guard: Guard, memory: RescanMemory): Promise<void> {
  const { paths, config } = ctx;
  const full = Date.now() - memory.fullAt >= FULL_RESCAN_MS;
  if (full) memory.fullAt = Date.now();
  const outbox = await listIfChanged(paths.queue.outbox, memory.outbox, full);
  // Ids the ledger knows need no intake (a reappearing folder is noted from its watch event), so a
  // listing of a 100,000-job queue costs one readdir and one query, not a look per finished job.
  const unknown = ctx.ledger
    .unknownAmong(outbox ? outbox.names : memory.unknown)
    .filter((name) => !name.startsWith("."));
  memory.unknown = unknown;
  if (outbox) memory.outbox = outbox.stamp;
  await Promise.all(
    unknown.map((name) =>
      ctx.serial.run(name, () => considerEntry(ctx, name)).catch(guard(ctx, "intake", name)),
    ),
  );
  const cancelList = await listIfChanged(paths.queue.cancelDir, memory.cancels, full);
  const cancels = cancelList
    ? cancelList.names.filter((n) => n.endsWith(".json")).map((n) => n.slice(0, -5))
    : memory.openCancels;
  if (cancelList) memory.cancels = cancelList.stamp;
  await Promise.all(
    cancels.map((id) => ctx.serial.run(id, () => considerCancel(ctx, id)).catch(guard(ctx, "cancel", id))),
  );
  // A finished job's request needs no further look (considerCancel does nothing for it).
  memory.openCancels = cancels.filter((id) => ctx.ledger.get(id)?.status === undefined);
  await cleanupFinished({
    paths,
    ledger: ctx.ledger,
    config,
    goneSince: ctx.goneSince,
    outboxNames: outbox?.names,
    nowMs: () => ctx.now().getTime(),
    log: ctx.log,
    forget: ctx.inbox.forget,
  }).catch(guard(ctx, "cleanup"));
}
