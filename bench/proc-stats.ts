import { readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel build. */
const CLOCK_TICKS_PER_S = 100;

/** CPU time (user + system) a process has used so far, in seconds, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces and parentheses: fields start after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After the name: state is field 3 of the man page, utime 14 and stime 15 => indexes 11 and 12 here.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_S;
}

export interface MemoryStatus {
  /** Resident set now, MB. */
  rssMb: number;
  /** Peak resident set since the process started (VmHWM), MB. */
  peakRssMb: number;
}

/** VmRSS and VmHWM from /proc/<pid>/status. */
export async function memoryStatus(pid: number): Promise<MemoryStatus> {
  const text = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]);
  };
  return { rssMb: kb("VmRSS") / 1024, peakRssMb: kb("VmHWM") / 1024 };
}

/** inotify watches a process holds (each chokidar/fs.watch folder costs one), from /proc/<pid>/fdinfo. */
export async function inotifyWatches(pid: number): Promise<number> {
  let count = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = await readlink(join(`/proc/${pid}/fd`, fd));
    } catch {
      continue;
    }
    if (target !== "anon_inode:inotify") continue;
    const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, "utf8").catch(() => "");
    count += info.split("\n").filter((line) => line.startsWith("inotify wd:")).length;
  }
  return count;
}

/**
 * Waits until process `pid` has used under `quietCpuS` of CPU in each of two consecutive windows of
 * `windowMs` (at most `maxMs`): a server catching up after its start (reading thousands of live jobs)
 * is not what a per-call latency benchmark measures. Returns how long it waited.
 */
export async function untilQuiet(
  pid: number,
  windowMs = 1000,
  quietCpuS = 0.05,
  maxMs = 180_000,
): Promise<number> {
  const began = Date.now();
  let quiet = 0;
  let last = await cpuSeconds(pid);
  while (quiet < 2 && Date.now() - began < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const now = await cpuSeconds(pid);
    quiet = now - last < quietCpuS ? quiet + 1 : 0;
    last = now;
  }
  return Date.now() - began;
}
