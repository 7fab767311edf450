import { spawn } from "node:child_process";
import { mkdir, open } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { removeTree } from "../../protocol/atomic-fs.ts";
import { RUN_TOKEN_PATTERN, runFile, writeRunFile } from "./run-folder.ts";
import type { RunSpec } from "./run-schemas.ts";
import { anyLaunched } from "./run-view.ts";

/** The supervisor's entry file beside this one: .ts in a checkout, .js in the built package. */
export function supervisorEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return path.join(path.dirname(here), `supervisor-main${path.extname(here)}`);
}

/**
 * Writes the run request (`spec.<run token>.json`) and starts the job's supervisor for that token, detached: it is not killed with the runner
 * (POSIX: its own session; Windows: DETACHED_PROCESS, outside the job object Node puts ordinary children in), so
 * the script outlives a runner restart. Resolves once the process exists; `exited` fires if it ends
 * while this runner lives, the quick path to its outcome.
 */
export async function launchSupervisor(
  dir: string,
  spec: RunSpec,
  env: NodeJS.ProcessEnv,
): Promise<{ pid: number | undefined; exited: Promise<void> }> {
  if (!RUN_TOKEN_PATTERN.test(spec.run_token)) throw new Error(`not a run token: ${spec.run_token}`);
  // A folder left by attempts that never launched (they were given up) must not confuse this one; one
  // whose script was launched is never replaced: that would be a second run of the same job.
  if (await anyLaunched(dir))
    throw new Error(`${dir} holds a run of this job that was launched already; it is not started again`);
  await removeTree(dir);
  await mkdir(dir, { recursive: true });
  await writeRunFile(runFile(dir, "spec", spec.run_token), spec);
  const errors = await open(runFile(dir, "log"), "a");
  try {
    const child = spawn(process.execPath, [supervisorEntry(), dir, spec.run_token], {
      // Not the run folder: on Windows a process's current folder cannot be removed.
      cwd: path.dirname(path.dirname(dir)),
      env,
      detached: true,
      stdio: ["ignore", "ignore", errors.fd],
      windowsHide: true,
    });
    const exited = new Promise<void>((resolve) => {
      child.once("error", () => resolve());
      child.once("exit", () => resolve());
    });
    child.unref();
    return { pid: child.pid, exited };
  } finally {
    await errors.close();
  }
}
