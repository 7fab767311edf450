import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { errnoCode } from "../protocol/errors.ts";

/** Runs a query program; its stdout, or undefined when it fails. Plain child_process: the supervisor imports this. */
function query(command: string, args: string[], timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, windowsHide: true }, (error, stdout) =>
      resolve(error ? undefined : stdout.trim()),
    );
  });
}

/**
 * A process as the runner records it: pid plus a token for when it started. Pids are reused (on
 * Windows within minutes), so a live pid alone proves nothing about which process holds it.
 */
export interface ProcessIdentity {
  pid: number;
  /** Opaque start token ("linux:<boot id>:<start ticks>", "win32:<creation time>", ...); null when unreadable. */
  start: string | null;
}

/** What a liveness check can say: `unknown` when the pid runs but its start time cannot be read. */
export type Liveness = "alive" | "gone" | "unknown";

function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === "EPERM";
  }
}

async function linuxStart(pid: number): Promise<string | null | "zombie"> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  if (state === "Z" || state === "X") return "zombie";
  const ticks = fields[19];
  if (ticks === undefined) return null;
  const bootId = await readFile("/proc/sys/kernel/random/boot_id", "utf8").then(
    (text) => text.trim(),
    () => "",
  );
  return `linux:${bootId}:${ticks}`;
}

async function windowsStart(pid: number): Promise<string | null> {
  // PowerShell ships with every Windows the runner supports; wmic is the fallback where it is missing.
  const ps = await query(
    "powershell.exe",
    [
      "-NoProfile",
      "-NonInteractive",
      "-Command",
      `(Get-Process -Id ${pid} -ErrorAction Stop).StartTime.ToUniversalTime().ToString('o')`,
    ],
    15_000,
  );
  if (ps) return `win32:${ps}`;
  const wmic = await query(
    "wmic",
    ["process", "where", `ProcessId=${pid}`, "get", "CreationDate", "/value"],
    15_000,
  );
  const match = /CreationDate=(\S+)/.exec(wmic ?? "");
  return match?.[1] ? `win32:${match[1]}` : null;
}

async function psStart(pid: number): Promise<string | null> {
  const out = await query("ps", ["-o", "lstart=", "-p", String(pid)], 10_000);
  return out ? `ps:${out}` : null;
}

/** The start token of a running process; null when it is gone or the system does not tell. */
export async function processStart(
  pid: number,
  platform: NodeJS.Platform = process.platform,
): Promise<string | null> {
  if (!pidRuns(pid)) return null;
  if (platform === "linux") {
    const start = await linuxStart(pid);
    return start === "zombie" ? null : start;
  }
  if (platform === "win32") return windowsStart(pid);
  return psStart(pid);
}

/** The identity of a running process, read now (its start token may be null where the OS hides it). */
export async function identify(
  pid: number,
  platform: NodeJS.Platform = process.platform,
): Promise<ProcessIdentity> {
  return { pid, start: await processStart(pid, platform) };
}

/**
 * Whether the recorded process still runs: the pid must run and have started when the record says.
 * A zombie counts as gone. Without a readable start token on either side the answer is `unknown`,
 * which callers resolve toward doing nothing irreversible (never killing, never re-running).
 */
export async function liveness(
  identity: ProcessIdentity,
  platform: NodeJS.Platform = process.platform,
): Promise<Liveness> {
  if (!pidRuns(identity.pid)) return "gone";
  if (platform === "linux") {
    const start = await linuxStart(identity.pid);
    if (start === "zombie" || start === null) return "gone";
    if (identity.start === null) return "unknown";
    return start === identity.start ? "alive" : "gone";
  }
  const start = await processStart(identity.pid, platform);
  if (start === null || identity.start === null) return pidRuns(identity.pid) ? "unknown" : "gone";
  return start === identity.start ? "alive" : "gone";
}
