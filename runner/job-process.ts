import { spawn } from "node:child_process";
import { open } from "node:fs/promises";
import type { Invocation } from "./interpreter.ts";
import { killLeftovers, killTree } from "./tree-kill.ts";

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (interpreter not found, ...). */
  spawnError?: string;
}

export interface JobProcess {
  pid: number | undefined;
  exited: Promise<ProcessExit>;
  /** Stops the whole tree; resolves once the kill has been delivered. */
  kill(): Promise<void>;
}

export interface SpawnJobOptions {
  invocation: Invocation;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr both go here, appended, through one descriptor, so their order is the true order. */
  logPath: string;
  platform?: NodeJS.Platform;
  killGraceMs: number;
}

/**
 * Starts a job. node:child_process here, not execa (used elsewhere in the runner): true stdout/stderr
 * order needs one arbitrary file descriptor passed as both, which execa's options do not type.
 */
export async function spawnJob(options: SpawnJobOptions): Promise<JobProcess> {
  const platform = options.platform ?? process.platform;
  const log = await open(options.logPath, "a");
  let child: ReturnType<typeof spawn>;
  let exited: Promise<ProcessExit>;
  try {
    child = spawn(options.invocation.command, options.invocation.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", log.fd, log.fd],
      // POSIX: its own process group, so the group can be killed with every grandchild.
      detached: platform !== "win32",
      windowsHide: true,
      windowsVerbatimArguments: options.invocation.windowsVerbatimArguments ?? false,
    });
    // Listen before any await: a spawn failure is emitted on the next tick.
    exited = new Promise<ProcessExit>((resolve) => {
      child.on("error", (error) => {
        if (child.pid === undefined) resolve({ code: null, signal: null, spawnError: error.message });
      });
      child.once("exit", (code, signal) => {
        if (child.pid !== undefined) killLeftovers(child.pid, platform);
        resolve({ code, signal });
      });
    });
  } finally {
    // The child holds its own copy of the descriptor.
    await log.close();
  }
  const pid = child.pid;
  return {
    pid,
    exited,
    async kill() {
      if (pid === undefined) return;
      await killTree(pid, { platform, graceMs: options.killGraceMs, exited });
    },
  };
}
