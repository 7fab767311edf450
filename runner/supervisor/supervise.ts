import { spawn } from "node:child_process";
import { open } from "node:fs/promises";
import path from "node:path";
import { pathExists } from "../../protocol/atomic-fs.ts";
import { processStart } from "../../protocol/process-identity.ts";
import { machineCondition } from "../fs-conditions.ts";
import { withoutNatsSettings } from "../nats/secret-env.ts";
import { killLeftovers } from "../process-tree.ts";
import { watchDescendants } from "./descendant-watch.ts";
import { moveRunFile, RUN_TOKEN_ENV, readRunFile, runFile, writeRunFile } from "./run-folder.ts";
import type { RunOutcome, RunSpec, RunState } from "./run-schemas.ts";

interface ScriptExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: string;
}

/** The runner wrote the request moments ago; only what a wrong shape would break is checked here. */
function asSpec(raw: unknown): RunSpec {
  const spec = raw as RunSpec;
  if (typeof spec?.command !== "string" || !Array.isArray(spec.args) || typeof spec.log_path !== "string")
    throw new Error("the run request is not a run request (command, args, log_path)");
  return spec;
}

/** Why the supervisor ended without running anything: the run was given up by a restarted runner. */
export type SuperviseResult = { ran: false; why: string } | { ran: true; outcome: RunOutcome };

async function startScript(
  spec: RunSpec,
  platform: NodeJS.Platform,
): Promise<{ pid: number | undefined; exited: Promise<ScriptExit> }> {
  // stdout and stderr through one descriptor, so the log holds them in their true order.
  const log = await open(spec.log_path, "a");
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      // The runner leaves them out already; a supervisor started by an older runner must not pass them on.
      env: { ...withoutNatsSettings(process.env), [RUN_TOKEN_ENV]: spec.run_token },
      stdio: ["ignore", log.fd, log.fd],
      // POSIX: the script leads its own process group, so the group can be stopped without this process.
      detached: platform !== "win32",
      windowsHide: true,
      windowsVerbatimArguments: spec.windows_verbatim,
    });
    // Listen before any await: a spawn failure is emitted on the next tick.
    const exited = new Promise<ScriptExit>((resolve) => {
      child.on("error", (error) => {
        if (child.pid === undefined) resolve({ code: null, signal: null, spawnError: error.message });
      });
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    return { pid: child.pid, exited };
  } finally {
    // The script holds its own copy of the descriptor.
    await log.close();
  }
}

/**
 * One supervised run, from the supervisor process: claim the request, record who supervises, commit to
 * launching, run the script, kill its leftovers, write the outcome. Each step's file exists before the
 * next step acts, so whoever reads the run folder later knows exactly how far it got. Every step acts
 * only on the files of `token`, the attempt this supervisor was started for: a request of a later
 * attempt is never claimed or launched by a supervisor left from a withdrawn one. `token` undefined:
 * a request written before tokens (plain names), by an older runner still running during an upgrade.
 */
export async function supervise(
  dir: string,
  platform: NodeJS.Platform,
  token: string | undefined,
): Promise<SuperviseResult> {
  if (!(await moveRunFile(dir, "spec", "claimed", token)))
    return { ran: false, why: "the run request was withdrawn" };
  const spec = await readRunFile(runFile(dir, "claimed", token), asSpec);
  if (!spec) return { ran: false, why: "the claimed run request is gone" };
  // Left claimed, never launched: the runner withdraws it and starts the job again.
  if (token !== undefined && spec.run_token !== token)
    return { ran: false, why: `the run request is for run token ${spec.run_token}, not ${token}` };
  const base = { job_id: spec.job_id, run_token: spec.run_token };
  const stateFile = runFile(dir, "state", token);
  // A first record at once (start unknown yet) so a runner reading the folder sees this pid without delay.
  const state: RunState = { ...base, supervisor: { pid: process.pid, start: null } };
  await writeRunFile(stateFile, state);
  state.supervisor.start = await processStart(process.pid, platform);
  await writeRunFile(stateFile, state);
  if (!(await moveRunFile(dir, "claimed", "launched", token)))
    return { ran: false, why: "the runner gave the run up before it was launched" };

  let script: Awaited<ReturnType<typeof startScript>>;
  try {
    script = await startScript(spec, platform);
  } catch (error) {
    // Launched but unable to start (the log cannot be opened): that is the outcome, not a crash.
    script = {
      pid: undefined,
      exited: Promise.resolve({ code: null, signal: null, spawnError: (error as Error).message }),
    };
  }
  if (script.pid !== undefined) {
    state.child = { pid: script.pid, start: await processStart(script.pid, platform) };
    state.launched_at = new Date().toISOString();
    // Failing this write (full disk) must not abandon the script: the outcome below still records it.
    await writeRunFile(stateFile, state).catch((error: unknown) =>
      note(`cannot record the script's pid (${(error as Error).message})`),
    );
  }
  const descendants = script.pid === undefined ? undefined : watchDescendants(script.pid, platform);
  const exit = await script.exited;
  const leftovers =
    script.pid === undefined
      ? 0
      : (await killLeftovers(script.pid, { name: RUN_TOKEN_ENV, value: spec.run_token }, platform)) +
        ((await descendants?.finish()) ?? 0);
  const outcome: RunOutcome = {
    ...base,
    exit_code: exit.code,
    signal: exit.signal,
    ...(exit.spawnError !== undefined ? { spawn_error: exit.spawnError } : {}),
    ended_at: new Date().toISOString(),
    ...(leftovers > 0 ? { leftovers_killed: leftovers } : {}),
  };
  await writeUntilDone(runFile(dir, "outcome", token), outcome);
  return { ran: true, outcome };
}

/**
 * The outcome is the only record of how hours of work ended: a full or failing disk is waited out
 * (the runner shows the job still running meanwhile), never given up on. Anything else (the run
 * folder was removed) ends the wait: no one is left to read the outcome.
 */
async function writeUntilDone(file: string, value: unknown): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await writeRunFile(file, value);
      return;
    } catch (error) {
      const condition = machineCondition(error);
      if (!condition || !(await pathExists(path.dirname(file)))) {
        note(`cannot write ${file} (${(error as Error).message}); giving up`);
        return;
      }
      const delayMs = Math.min(30_000, 100 * 2 ** Math.min(attempt, 9));
      note(`cannot write ${file} (${condition}); retrying in ${delayMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

function note(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}
