import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../protocol/index.ts";
import { isProcessAlive } from "./tree-kill.ts";

export const LOCK_FILE = "runner.lock";

export interface StateLock {
  release(): Promise<void>;
}

/**
 * Takes the state folder for this process: two runners sharing one ledger could each accept the same
 * job. A lock left by a dead runner (killed, power loss) is taken over.
 */
export async function lockStateDir(stateDir: string): Promise<StateLock> {
  const path = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (error) {
      if (errnoCode(error) !== "EEXIST") throw error;
      const owner = Number.parseInt((await readFile(path, "utf8").catch(() => "")).trim(), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && (await isProcessAlive(owner))) {
        throw new Error(
          `another runner (pid ${owner}) uses the state folder ${stateDir}; stop it first, or give this one its own --state folder`,
        );
      }
      await rm(path, { force: true });
    }
  }
  throw new Error(`could not lock the state folder ${stateDir}: ${path} keeps reappearing`);
}
