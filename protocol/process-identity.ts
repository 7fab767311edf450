// A process's identity (pid plus start time) and whether it still runs, for every side: the runner's
// ledger and state lock, and the submitting side's NATS mirror lock. Pids are reused, so a lock or a
// record names the process by both. Plain child_process, no zod: the runner's supervisor imports it.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { pidAlive } from "./pid-alive.ts";

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

/** FILETIME ticks (100 ns since 1601 UTC) as an ISO time with microseconds: every Windows source agrees on it. */
export function filetimeToIso(ticks: string): string | null {
  if (!/^\d{15,20}$/.test(ticks)) return null;
  const micros = BigInt(ticks) / 10n - 11_644_473_600_000_000n;
  const iso = new Date(Number(micros / 1000n)).toISOString();
  return `${iso.slice(0, -1)}${String(micros % 1000n).padStart(3, "0")}Z`;
}

/** wmic's CreationDate (`20240101120000.123456+060`: local time, offset in minutes) as UTC with microseconds. */
export function wmicToIso(value: string): string | null {
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)\.(\d{6})([+-]\d{3})$/.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, us, offset] = m;
  const localMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const iso = new Date(localMs - Number(offset) * 60_000).toISOString().slice(0, -5);
  return `${iso}.${us}Z`;
}

/**
 * One form for a Windows start token whatever wrote it, so a record taken with one source (PowerShell,
 * the helper, wmic, or an older runner's 7-digit PowerShell time) compares equal to a check with another.
 */
export function normalizeWindowsStart(token: string): string {
  const body = token.startsWith("win32:") ? token.slice(6) : token;
  const iso7 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})\d?Z$/.exec(body);
  if (iso7) return `win32:${iso7[1]}Z`;
  const wmic = wmicToIso(body);
  return wmic ? `win32:${wmic}` : token;
}

/** Whether two start tokens name the same process start. */
export function sameStart(a: string, b: string): boolean {
  if (a.startsWith("win32:") && b.startsWith("win32:"))
    return normalizeWindowsStart(a) === normalizeWindowsStart(b);
  return a === b;
}

/**
 * The creation time of a Windows process, from the first source that answers: the helper named by
 * ATOMIZER_PROCESS_START (tools/win32/process-start.c: GetProcessTimes, for Wine, which has neither a
 * real PowerShell nor WMI's CreationDate), PowerShell (every supported Windows), then wmic.
 */
async function windowsStart(pid: number): Promise<string | null> {
  const helper = process.env.ATOMIZER_PROCESS_START;
  if (helper) {
    const iso = filetimeToIso((await query(helper, [String(pid)], 15_000)) ?? "");
    if (iso) return `win32:${iso}`;
  }
  const ps = await query(
    "powershell.exe",
    [
      "-NoProfile",
      "-NonInteractive",
      "-Command",
      `(Get-Process -Id ${pid} -ErrorAction Stop).StartTime.ToFileTimeUtc()`,
    ],
    15_000,
  );
  // Wine's powershell.exe is a stub that exits 0 and prints nothing: only ticks count as an answer.
  const fromPs = filetimeToIso(ps ?? "");
  if (fromPs) return `win32:${fromPs}`;
  const wmic = await query(
    "wmic",
    ["process", "where", `ProcessId=${pid}`, "get", "CreationDate", "/value"],
    15_000,
  );
  const match = /CreationDate=(\S+)/.exec(wmic ?? "");
  const fromWmic = match?.[1] ? wmicToIso(match[1]) : null;
  return fromWmic ? `win32:${fromWmic}` : null;
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
  if (!pidAlive(pid)) return null;
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
  if (!pidAlive(identity.pid)) return "gone";
  if (platform === "linux") {
    const start = await linuxStart(identity.pid);
    if (start === "zombie" || start === null) return "gone";
    if (identity.start === null) return "unknown";
    return start === identity.start ? "alive" : "gone";
  }
  const start = await processStart(identity.pid, platform);
  if (start === null || identity.start === null) return pidAlive(identity.pid) ? "unknown" : "gone";
  return sameStart(start, identity.start) ? "alive" : "gone";
}
