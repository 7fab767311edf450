import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = fileURLToPath(new URL("../../bin/atomizer-jobs.js", import.meta.url));

export interface CliRun {
  /** null when the process was killed (e.g. by the timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** The child's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** Runs the real `atomizer-jobs` entry point as a child process (argv array, no shell). */
export async function runAtomizerJobs(args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? REPO,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    timeout: options.timeoutMs ?? 60_000,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout, stderr };
}

export interface CliProcess {
  child: ChildProcess;
  /** The exit code; null when killed by a signal. */
  exited: Promise<number | null>;
  /** stdout and stderr so far, in arrival order. */
  output(): string;
}

/** Starts the real `atomizer-jobs` as a long-lived child (a runner), collecting what it prints. */
export function startAtomizerJobs(args: readonly string[], options: { cwd?: string } = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let output = "";
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout.on("data", append);
  child.stderr.on("data", append);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}
