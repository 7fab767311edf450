import { createHash } from "node:crypto";
import { mkdir, realpath } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve, win32 } from "node:path";
import { syncedFolderAbove } from "../../protocol/index.ts";

/** The environment variable that names the submitting side's state folder when --state does not. */
export const STATE_DIR_ENV = "ATOMIZER_STATE_DIR";

/**
 * The per-user folder the submitting side keeps its own state in (the job index): never inside the
 * synced tree, where every rewrite of the database would be an event for Syncthing to look at.
 */
export function defaultStateDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (env[STATE_DIR_ENV]) return resolve(env[STATE_DIR_ENV]);
  if (platform === "win32") {
    const base = env.LOCALAPPDATA ?? win32.join(homedir(), "AppData", "Local");
    return win32.join(base, "atomizer-jobs");
  }
  const base = env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(base, "atomizer-jobs");
}

/**
 * The index file of one queue: several queues (or a queue reached by two paths) never share one,
 * and every server process of one queue finds the same file.
 */
export async function indexFileFor(stateDir: string, queueRoot: string): Promise<string> {
  let real = resolve(queueRoot);
  try {
    real = await realpath(real);
  } catch {
    // A queue that cannot be resolved fails its layout check before anything opens an index.
  }
  const key = process.platform === "win32" ? real.toLowerCase() : real;
  const digest = createHash("sha256").update(key).digest("hex").slice(0, 16);
  return join(stateDir, `index-${digest}.sqlite`);
}

/** Makes the state folder, refusing one inside a synced folder or a queue. */
export async function prepareStateDir(stateDir: string): Promise<void> {
  const synced = await syncedFolderAbove(stateDir);
  if (synced)
    throw new Error(
      `state folder ${stateDir} is inside ${synced}, a synced folder or a queue: the job index must live outside what Syncthing shares; pass --state DIR (or set ${STATE_DIR_ENV}) to a local folder`,
    );
  await mkdir(stateDir, { recursive: true });
}
