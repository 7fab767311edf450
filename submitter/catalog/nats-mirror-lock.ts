import { link, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../../protocol/index.ts";
import type { ProcessIdentity } from "../../protocol/process-identity.ts";
import { identify, liveness } from "../../protocol/process-identity.ts";

// One process per mirror downloads from NATS into it: two would race each other's renames into the
// mirror's outbox and rewrite its inbox files twice over. The lock holds the holder's pid and start
// time (pids are reused), so a lock left by a killed process is taken over by the next one to try,
// and a live holder is never pushed aside.

export const MIRROR_LOCK_FILE = "downloader.lock";
const TAKEOVER_FILE = `${MIRROR_LOCK_FILE}.takeover`;
/** A lock file without readable content for this long was left by a crash between create and write. */
const GARBLED_STALE_MS = 10_000;

export interface MirrorLockHolder extends ProcessIdentity {
  taken_at: string;
}

export type MirrorLockAttempt =
  | { held: true; tookOver?: MirrorLockHolder; release(): Promise<void> }
  | { held: false; holder: MirrorLockHolder | undefined };

function parseHolder(text: string): MirrorLockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<MirrorLockHolder>;
    if (typeof value.pid !== "number" || !Number.isInteger(value.pid) || value.pid <= 0) return undefined;
    return {
      pid: value.pid,
      start: typeof value.start === "string" ? value.start : null,
      taken_at: typeof value.taken_at === "string" ? value.taken_at : "",
    };
  } catch {
    return undefined;
  }
}

/** Puts `temp`'s content at `path` only if nothing is there: the lock never appears empty. */
async function takeName(temp: string, path: string): Promise<boolean> {
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    const code = errnoCode(error);
    if (code === "EEXIST") return false;
    // A file system without hard links: exclusive create, content right after.
    if (!["EPERM", "ENOTSUP", "ENOSYS", "EOPNOTSUPP"].includes(code ?? "")) throw error;
    try {
      await writeFile(path, await readFile(temp, "utf8"), { flag: "wx" });
      return true;
    } catch (inner) {
      if (errnoCode(inner) === "EEXIST") return false;
      throw inner;
    }
  }
}

/** Whether the lock text at `path` was left by a process that no longer runs. */
async function abandoned(path: string, text: string, self: ProcessIdentity): Promise<boolean> {
  const holder = parseHolder(text);
  if (!holder) {
    const age = await stat(path).then(
      (stats) => Date.now() - stats.mtimeMs,
      () => 0,
    );
    return age > GARBLED_STALE_MS;
  }
  // Our own pid with another start time is an earlier process (containers reuse pid 1 on restart).
  if (holder.pid === self.pid) return holder.start !== self.start;
  // "unknown" (a start time the system does not tell) counts as alive: never push a live holder aside.
  return (await liveness(holder)) === "gone";
}

/**
 * Takes `<dir>/downloader.lock` once: held, or who holds it. A holder that is gone is replaced; of two
 * processes replacing it at once only the one holding the takeover file removes the old lock.
 * `knownSelf`: this process's identity, read once by a caller that tries again and again (on Windows
 * reading a start time starts PowerShell).
 */
export async function tryMirrorLock(dir: string, knownSelf?: ProcessIdentity): Promise<MirrorLockAttempt> {
  const path = join(dir, MIRROR_LOCK_FILE);
  const self = knownSelf ?? (await identify(process.pid));
  const mine: MirrorLockHolder = { ...self, taken_at: new Date().toISOString() };
  const text = `${JSON.stringify(mine)}\n`;
  const temp = join(dir, `.${MIRROR_LOCK_FILE}.${process.pid}.${Date.now()}.tmp`);
  await writeFile(temp, text);
  const release = async () => {
    if ((await readFile(path, "utf8").catch(() => undefined)) === text) await rm(path, { force: true });
  };
  try {
    let tookOver: MirrorLockHolder | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await takeName(temp, path))
        return tookOver ? { held: true, tookOver, release } : { held: true, release };
      const current = await readFile(path, "utf8").catch(() => undefined);
      if (current === undefined) continue;
      if (!(await abandoned(path, current, self))) return { held: false, holder: parseHolder(current) };
      const takeover = join(dir, TAKEOVER_FILE);
      if (!(await takeName(temp, takeover))) {
        await clearDeadTakeover(takeover, self);
        return { held: false, holder: parseHolder(current) };
      }
      try {
        if ((await readFile(path, "utf8").catch(() => undefined)) === current)
          await rm(path, { force: true });
        tookOver = parseHolder(current);
      } finally {
        await rm(takeover, { force: true });
      }
    }
    const current = await readFile(path, "utf8").catch(() => undefined);
    return { held: false, holder: current === undefined ? undefined : parseHolder(current) };
  } finally {
    await rm(temp, { force: true });
  }
}

/** A takeover file left by a process killed mid-takeover would block every later one: remove it. */
async function clearDeadTakeover(takeover: string, self: ProcessIdentity): Promise<void> {
  const text = await readFile(takeover, "utf8").catch(() => undefined);
  if (text === undefined || !(await abandoned(takeover, text, self))) return;
  if ((await readFile(takeover, "utf8").catch(() => undefined)) === text) await rm(takeover, { force: true });
}
