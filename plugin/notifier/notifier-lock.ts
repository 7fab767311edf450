import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { errnoCode, pidAlive, writeJsonAtomic } from "../../protocol/index.ts";

export const LOCK_FILE = "lock.json";

export const LockInfoSchema = z.object({
  owner: z.string().min(1),
  pid: z.number().int(),
  hostname: z.string(),
  started_at: z.string(),
  refreshed_at: z.string(),
});
export type LockInfo = z.infer<typeof LockInfoSchema>;

export interface LockOptions {
  /** This engine's identity; two engines in one process have different owners. */
  owner: string;
  now: () => number;
  /** A lock not refreshed for this long is abandoned. */
  staleAfterMs: number;
}

export type LockAttempt = { acquired: true } | { acquired: false; holder: LockInfo };

export function newLockOwner(): string {
  return `${process.pid}-${randomBytes(6).toString("hex")}`;
}

async function readLock(path: string): Promise<LockInfo | "absent" | "garbled"> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return "absent";
    throw error;
  }
  try {
    const parsed = LockInfoSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : "garbled";
  } catch {
    return "garbled";
  }
}

/** Why the holder no longer counts, or undefined while it does. */
function abandoned(holder: LockInfo, options: LockOptions): string | undefined {
  const age = options.now() - Date.parse(holder.refreshed_at);
  if (!(age <= options.staleAfterMs)) return `not refreshed for ${Math.round(age / 1000)} s`;
  if (holder.hostname === hostname() && holder.pid !== process.pid && !pidAlive(holder.pid)) {
    return `its process ${holder.pid} is gone`;
  }
  return undefined;
}

/**
 * Takes `<dir>/lock.json` so only one notifier acts on a queue (several gateways on one host each
 * run the plugin). Created with O_EXCL; an abandoned lock is first renamed aside, so of two engines
 * taking it over only one renames the old file and only one creates the new one.
 */
export async function tryAcquireLock(
  dir: string,
  options: LockOptions,
): Promise<LockAttempt & { tookOver?: string }> {
  const path = join(dir, LOCK_FILE);
  const now = new Date(options.now()).toISOString();
  const info: LockInfo = {
    owner: options.owner,
    pid: process.pid,
    hostname: hostname(),
    started_at: now,
    refreshed_at: now,
  };
  let tookOver: string | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(`${JSON.stringify(info, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return tookOver ? { acquired: true, tookOver } : { acquired: true };
    } catch (error) {
      if (errnoCode(error) !== "EEXIST") throw error;
    }
    const holder = await readLock(path);
    if (holder === "absent") continue;
    // A garbled lock is a crash between create and write: treat as abandoned.
    const why = holder === "garbled" ? "its lock file is unreadable" : abandoned(holder, options);
    if (holder !== "garbled" && holder.owner === options.owner) return { acquired: true };
    if (!why && holder !== "garbled") return { acquired: false, holder };
    try {
      const aside = join(dir, `${LOCK_FILE}.abandoned-${randomBytes(4).toString("hex")}`);
      await rename(path, aside);
      await rm(aside, { force: true });
      tookOver = holder === "garbled" ? why : `pid ${holder.pid} on ${holder.hostname}: ${why}`;
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") throw error;
    }
  }
  const holder = await readLock(path);
  if (typeof holder === "object") return { acquired: false, holder };
  throw new Error(`could not take ${path}: it keeps changing; is another notifier starting right now?`);
}

/** Rewrites refreshed_at; false when the lock is no longer ours (taken over after we stalled). */
export async function refreshLock(dir: string, options: LockOptions): Promise<boolean> {
  const path = join(dir, LOCK_FILE);
  const holder = await readLock(path);
  if (typeof holder !== "object" || holder.owner !== options.owner) return false;
  await writeJsonAtomic(path, { ...holder, refreshed_at: new Date(options.now()).toISOString() });
  return true;
}

/** Whether the lock is still ours, checked right before acting. */
export async function holdsLock(dir: string, owner: string): Promise<boolean> {
  const holder = await readLock(join(dir, LOCK_FILE));
  return typeof holder === "object" && holder.owner === owner;
}

export async function releaseLock(dir: string, owner: string): Promise<void> {
  if (await holdsLock(dir, owner)) await rm(join(dir, LOCK_FILE), { force: true });
}

/** The queue's notifier lock as one engine holds it: its folder and owner id fixed, so no caller passes them. */
export class NotifierLock {
  readonly #dir: string;
  readonly #options: LockOptions;

  constructor(dir: string, options: LockOptions) {
    this.#dir = dir;
    this.#options = options;
  }

  acquire(): Promise<LockAttempt & { tookOver?: string }> {
    return tryAcquireLock(this.#dir, this.#options);
  }

  refresh(): Promise<boolean> {
    return refreshLock(this.#dir, this.#options);
  }

  holds(): Promise<boolean> {
    return holdsLock(this.#dir, this.#options.owner);
  }

  release(): Promise<void> {
    return releaseLock(this.#dir, this.#options.owner);
  }
}
