import { readFile } from "node:fs/promises";
import { execa } from "execa";
import { isProcessAlive, pidAlive } from "../protocol/pid-alive.ts";
import type { ProcessIdentity } from "../protocol/process-identity.ts";
import { liveness } from "../protocol/process-identity.ts";
import { processesWithEnv, signal, signalGroup } from "./process-tree.ts";
import { windowsDescendants } from "./win32-processes.ts";

export { isProcessAlive } from "../protocol/pid-alive.ts";
export { killLeftovers, signalGroup } from "./process-tree.ts";

/** The command that kills a whole process tree on Windows: NX runs as a grandchild of Python. */
export function windowsTreeKillArgs(pid: number): string[] {
  return ["/pid", String(pid), "/T", "/F"];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function survivorsOf(
  targets: readonly ProcessIdentity[],
  platform: NodeJS.Platform,
): Promise<ProcessIdentity[]> {
  const alive = await Promise.all(
    targets.map(async (t) => ((await liveness(t, platform)) === "gone" ? [] : [t])),
  );
  return alive.flat();
}

async function waitGone(
  targets: readonly ProcessIdentity[],
  platform: NodeJS.Platform,
  ms: number,
): Promise<ProcessIdentity[]> {
  const deadline = Date.now() + ms;
  let left = await survivorsOf(targets, platform);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50);
    left = await survivorsOf(left, platform);
  }
  return left;
}

export interface KillTreeOptions {
  platform?: NodeJS.Platform;
  /** Time between the polite stop (POSIX SIGTERM to the group) and the hard kill; 0 kills at once. */
  graceMs: number;
  /** Resolves when the tree's root process has exited (ends the grace period early). */
  exited?: Promise<unknown>;
  /** Linux: the run token every descendant inherits, to find those that left the process group. */
  token?: { name: string; value: string };
  /** Other known processes of the job, killed one by one when the tree kill fails (the fallback). */
  known?: readonly ProcessIdentity[];
  /** How long to wait for the tree to be gone after the hard kill before reporting survivors. */
  confirmMs?: number;
  /** Runs the tree kill command (Windows taskkill); a test can pass one that fails. */
  taskkill?: (args: string[]) => Promise<{ exitCode: number | undefined; output: string }>;
  /**
   * The root was recorded long ago (a run found after a restart): kill by pid only if its pid and start
   * time still match. After a reboot the pid may be a stranger's; taskkill /T would take its whole tree.
   */
  verifyRoot?: boolean;
  /** Windows: lists a process's descendants when taskkill failed (default: wmic / PowerShell parent links). */
  descendants?: (pid: number) => Promise<number[]>;
}

/** What a kill did; `survivors` are processes still alive at the end of the bound. */
export interface KillReport {
  survivors: number[];
  notes: string[];
}

async function runTaskkill(args: string[]): Promise<{ exitCode: number | undefined; output: string }> {
  const result = await execa("taskkill", args, {
    all: true,
    reject: false,
    timeout: 10_000,
    windowsHide: true,
  });
  const output = typeof result.all === "string" ? result.all.trim() : (result.shortMessage ?? "");
  return { exitCode: result.exitCode, output };
}

/**
 * Stops a job's whole process tree within a bound, whatever fails on the way. POSIX: the script leads
 * its own process group, so SIGTERM to the group lets Python write partial results, SIGKILL takes what
 * is left; on Linux the run token in the environment also finds descendants that escaped the group
 * (setsid, double fork). Windows: `taskkill /T /F`, the only way to reach the solver grandchildren;
 * when it fails (Wine's taskkill has no /T) or the tree outlives it, each known process is killed
 * one by one. Never waits longer than grace + confirm + the command timeouts.
 */
export async function killTree(root: ProcessIdentity, options: KillTreeOptions): Promise<KillReport> {
  const platform = options.platform ?? process.platform;
  const notes: string[] = [];
  const confirmMs = options.confirmMs ?? 5000;
  const known = [root, ...(options.known ?? [])];
  if (options.verifyRoot) {
    const state = await liveness(root, platform);
    if (state !== "alive") {
      // POSIX: a pid that no process holds may still name the group its dead leader left behind (a
      // group id is never reused while the group lives); a pid held by another process is a stranger's.
      if (platform !== "win32" && !pidAlive(root.pid)) signalGroup(root.pid, "SIGKILL");
      const swept = options.token ? await processesWithEnv(options.token.name, options.token.value) : [];
      for (const pid of swept) signal(pid, "SIGKILL");
      notes.push(
        `pid ${root.pid} is ${state === "gone" ? "gone (or now another process's)" : "not provably the job's"}: not killed by pid` +
          (swept.length > 0 ? `; ${swept.length} process(es) killed by run token` : ""),
      );
      return { survivors: [], notes };
    }
  }
  if (platform === "win32") {
    const taskkill = options.taskkill ?? runTaskkill;
    const result = await taskkill(windowsTreeKillArgs(root.pid));
    // 128: no such process, the tree is already gone.
    if (result.exitCode !== 0 && result.exitCode !== 128) {
      notes.push(`taskkill /T /F failed (exit ${result.exitCode ?? "none"}: ${result.output.slice(0, 200)})`);
      // Nothing of the tree was killed: its descendants are found from the parent links instead.
      const found = await (options.descendants ?? windowsDescendants)(root.pid);
      if (found.length > 0)
        notes.push(`found ${found.length} descendant(s) by parent links: ${found.join(", ")}`);
      for (const pid of found) known.push({ pid, start: null });
    }
    let left = await waitGone(known, platform, Math.min(options.graceMs, confirmMs) || 500);
    if (left.length > 0) {
      notes.push(`killing ${left.length} known process(es) one by one: ${left.map((p) => p.pid).join(", ")}`);
      for (const target of left) signal(target.pid, "SIGKILL");
      left = await waitGone(left, platform, confirmMs);
    }
    return { survivors: left.map((p) => p.pid), notes };
  }
  if (options.graceMs > 0) {
    signalGroup(root.pid, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      options.exited ?? waitGone([root], platform, options.graceMs),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.graceMs);
      }),
    ]);
    clearTimeout(timer);
  }
  signalGroup(root.pid, "SIGKILL");
  const escaped = options.token ? await processesWithEnv(options.token.name, options.token.value) : [];
  for (const pid of escaped) signal(pid, "SIGKILL");
  if (escaped.length > 0) notes.push(`killed ${escaped.length} process(es) outside the group by run token`);
  let left = await waitGone(known, platform, confirmMs);
  if (left.length > 0) {
    for (const target of left) signal(target.pid, "SIGKILL");
    left = await waitGone(left, platform, 1000);
  }
  return { survivors: left.map((p) => p.pid), notes };
}

/**
 * Whether a live pid is still the job's process (pids are reused). Linux: its environment names the job.
 * Elsewhere the environment of another process cannot be read, so a live pid is taken as the job's.
 * Only for ledgers written before supervisors, which recorded a bare pid.
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
