import { readFile } from "node:fs/promises";
import { execa } from "execa";
import { errnoCode } from "../protocol/index.ts";

/** Whether a process runs. A zombie (exited, not yet reaped by its parent) counts as gone. */
export async function isProcessAlive(
  pid: number,
  platform: NodeJS.Platform = process.platform,
): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return errnoCode(error) === "EPERM";
  }
  if (platform !== "linux") return true;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** The command that kills a whole process tree on Windows: NX runs as a grandchild of Python. */
export function windowsTreeKillArgs(pid: number): string[] {
  return ["/pid", String(pid), "/T", "/F"];
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // A negative pid signals the whole process group the job was spawned as the leader of.
    process.kill(-pid, signal);
  } catch (error) {
    if (errnoCode(error) !== "ESRCH") throw error;
  }
}

async function taskkill(pid: number): Promise<void> {
  // taskkill exits 128 when the process is already gone: nothing left to do either way.
  await execa("taskkill", windowsTreeKillArgs(pid), { stdio: "ignore", windowsHide: true, reject: false });
}

export interface KillTreeOptions {
  platform?: NodeJS.Platform;
  /** POSIX: time between SIGTERM and SIGKILL; 0 kills at once. */
  graceMs: number;
  /** Resolves when the tree's root process has exited. */
  exited?: Promise<unknown>;
}

/**
 * Stops a job's whole process tree. POSIX: the job leads its own process group (spawned detached), so
 * SIGTERM to the group lets Python write partial results, then SIGKILL takes whatever is left,
 * grandchildren included. Windows: `taskkill /T /F`, the only way to reach the solver grandchildren.
 */
export async function killTree(pid: number, options: KillTreeOptions): Promise<void> {
  const platform = options.platform ?? process.platform;
  if (platform === "win32") {
    await taskkill(pid);
    return;
  }
  if (options.graceMs > 0) {
    signalGroup(pid, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      options.exited ?? new Promise<never>(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.graceMs);
      }),
    ]);
    clearTimeout(timer);
  }
  signalGroup(pid, "SIGKILL");
}

/**
 * Kills what is left of a finished job's process group (POSIX): a solver the script left behind would
 * hold an NX licence. On Windows the tree link is gone once the root exits, so nothing can be done.
 */
export function killLeftovers(pid: number, platform: NodeJS.Platform = process.platform): void {
  if (platform !== "win32") signalGroup(pid, "SIGKILL");
}

/**
 * Whether a live pid is still the job's process (pids are reused). Linux: its environment names the job.
 * Elsewhere the environment of another process cannot be read, so a live pid is taken as the job's.
 */
export async function isJobProcess(
  pid: number,
  jobId: string,
  envName: string,
  platform: NodeJS.Platform = process.platform,
): Promise<boolean> {
  if (!(await isProcessAlive(pid, platform))) return false;
  if (platform !== "linux") return true;
  try {
    const environ = await readFile(`/proc/${pid}/environ`, "utf8");
    return environ.split("\0").includes(`${envName}=${jobId}`);
  } catch {
    return false;
  }
}
