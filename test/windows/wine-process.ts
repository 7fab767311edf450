import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { WineLane } from "./wine-setup.ts";

/** A `wine node.exe ...` process; its output goes to a file (wine's node.exe fails on a Linux pipe: EBADF). */
export interface WineProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => Promise<string>;
}

export function startWine(
  lane: WineLane,
  args: string[],
  options: { cwd: string; outFile: string; env?: NodeJS.ProcessEnv },
): WineProcess {
  const fd = openSync(options.outFile, "a");
  const child = spawn("wine", [lane.nodeExe, ...args], {
    cwd: options.cwd,
    env: { ...lane.env, ...options.env },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => {
    child.once("error", () => resolve(null));
    child.once("exit", (code) => resolve(code));
  });
  return { child, exited, output: () => readFile(options.outFile, "utf8").catch(() => "") };
}

/** Runs a `wine node.exe` command to its end; gives its exit code and output. */
export async function runWine(
  lane: WineLane,
  args: string[],
  options: { cwd: string; outFile: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ code: number | null; output: string }> {
  const proc = startWine(lane, args, options);
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, output: await proc.output() };
}
