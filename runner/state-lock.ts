import { link, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../protocol/index.ts";
import type { ProcessIdentity } from "../protocol/process-identity.ts";
import { identify, liveness } from "../protocol/process-identity.ts";

export const LOCK_FILE = "runner.lock";
/**
 * Held by the one runner removing a dead runner's lock, written like the lock itself (whole, with its
 * holder's pid and start time), so one left by a runner killed mid-takeover is seen as dead at once.
 */
const TAKEOVER_FILE = `${LOCK_FILE}.takeover`;
const TAKEOVER_WAIT_MS = 50;

export interface StateLock {
  release(): Promise<void>;
}

function parseOwner(text: string): ProcessIdentity | undefined {
  try {
    const owner = JSON.parse(text) as Partial<ProcessIdentity>;
    if (typeof owner.pid === "number" && Number.isInteger(owner.pid) && owner.pid > 0)
      return { pid: owner.pid, start: typeof owner.start === "string" ? owner.start : null };
  } catch {
    // Runner 0.1 wrote the bare pid.
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? { pid, start: null } : undefined;
}

/** Puts `temp`'s content at `path` only if `path` does not exist (EEXIST otherwise). */
async function takeName(temp: string, path: string): Promise<void> {
  try {
    await link(temp, path);
  } catch (error) {
    // A file system without hard links (FAT, some shares): exclusive create, content right after.
    if (!["EPERM", "ENOTSUP", "ENOSYS", "EOPNOTSUPP"].includes(errnoCode(error) ?? "")) throw error;
    await writeFile(path, await readFile(temp, "utf8"), { flag: "wx" });
  }
}

/**
 * Takes the state folder for this process: two runners sharing one ledger could each accept the same
 * job. The lock appears with its content already in it (written to a temp name, then hard-linked
 * into place, which fails if the name exists), so no reader ever sees it empty. A lock left by a dead
 * runner (pid and start time no longer match) is taken over; an unreadable one is never assumed stale.
 */
export async function lockStateDir(stateDir: string): Promise<StateLock> {
  const path = join(stateDir, LOCK_FILE);
  const self = await identify(process.pid);
  const temp = join(stateDir, `.${LOCK_FILE}.${process.pid}.tmp`);
  await writeFile(temp, `${JSON.stringify(self)}\n`);
  try {
    for (let attempt = 0; attempt < 40; attempt++) {
      try {
        await takeName(temp, path);
        return { release: () => rm(path, { force: true }) };
      } catch (error) {
        if (errnoCode(error) !== "EEXIST") throw error;
      }
      const text = await readFile(path, "utf8").catch(() => undefined);
      if (text === undefined) continue;
      const owner = parseOwner(text);
      if (!owner) {
        throw new Error(
          `the state folder lock ${path} cannot be read; if no other runner uses ${stateDir}, delete the file and start again`,
        );
      }
      const state = owner.pid === process.pid ? "gone" : await liveness(owner);
      if (state !== "gone") {
        throw new Error(
          `another runner (pid ${owner.pid}) uses the state folder ${stateDir}; stop it first, or give this one its own --state folder`,
        );
      }
      // Checking the content and removing it is two steps: two runners doing both at once could each
      // remove the lock the other just took. Only the holder of the takeover file removes.
      const takeover = join(stateDir, TAKEOVER_FILE);
      if (!(await takeOver(temp, takeover))) {
        await new Promise((resolve) => setTimeout(resolve, TAKEOVER_WAIT_MS));
        continue;
      }
      try {
        if ((await readFile(path, "utf8").catch(() => undefined)) === text) await rm(path, { force: true });
      } finally {
        await rm(takeover, { force: true });
      }
    }
    throw new Error(`could not lock the state folder ${stateDir}: ${path} keeps reappearing`);
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Takes the takeover file; false while a live runner holds it. One left by a dead runner is removed
 * (its content checked first), so the next try can take it.
 */
async function takeOver(temp: string, takeover: string): Promise<boolean> {
  try {
    await takeName(temp, takeover);
    return true;
  } catch (error) {
    if (errnoCode(error) !== "EEXIST") throw error;
  }
  const text = await readFile(takeover, "utf8").catch(() => undefined);
  const owner = text === undefined ? undefined : parseOwner(text);
  if (owner && (owner.pid === process.pid || (await liveness(owner)) === "gone")) {
    if ((await readFile(takeover, "utf8").catch(() => undefined)) === text)
      await rm(takeover, { force: true });
  }
  return false;
}
