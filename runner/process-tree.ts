import { readdir, readFile } from "node:fs/promises";
import { errnoCode } from "../protocol/errors.ts";

// Signals and process lookups without a child process of their own: the supervisor uses these, and
// it starts once per job, so it stays free of execa and zod.

export function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (error) {
    if (errnoCode(error) !== "ESRCH") throw error;
    return false;
  }
}

/** Linux: every process whose environment carries `name=value`; descendants keep it across setsid and double forks. */
export async function processesWithEnv(name: string, value: string): Promise<number[]> {
  const wanted = `${name}=${value}`;
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const found: number[] = [];
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
      .map(async (entry) => {
        const environ = await readFile(`/proc/${entry}/environ`, "latin1").catch(() => "");
        if (environ.split("\0").includes(wanted)) found.push(Number(entry));
      }),
  );
  return found;
}

/** Sends a signal to the process group `pid` leads; false when the group is gone. */
export function signalGroup(pid: number, name: NodeJS.Signals): boolean {
  // A negative pid signals the whole process group the job was spawned as the leader of.
  return signal(-pid, name);
}

/**
 * Kills what is left of a finished script's processes: a solver it left behind would hold an NX
 * licence. POSIX: its process group, and on Linux every process carrying its run token. On Windows
 * the tree link is gone once the root exits; nothing can be found from here.
 */
export async function killLeftovers(
  pid: number,
  token: { name: string; value: string } | undefined,
  platform: NodeJS.Platform = process.platform,
): Promise<number> {
  if (platform === "win32") return 0;
  let killed = 0;
  if (platform === "linux" && token) {
    for (const other of await processesWithEnv(token.name, token.value))
      if (signal(other, "SIGKILL")) killed++;
  }
  if (signalGroup(pid, "SIGKILL") && killed === 0) killed = 1;
  return killed;
}
