import type { ProcessIdentity } from "../../protocol/process-identity.ts";
import { liveness, processStart } from "../../protocol/process-identity.ts";
import { windowsDescendants } from "../win32-processes.ts";

/**
 * Windows has no process groups, and a process whose parent exited has no parent link any more, so
 * `taskkill /T` cannot reach a solver the script started and left behind. The supervisor therefore
 * notes every descendant it sees while the script runs (often at first, then calmly: each look runs
 * wmic) and kills those still alive, by pid and start time, once the script has ended. A process that
 * is started and orphaned between two looks is not seen; POSIX needs none of this (process group and
 * run token).
 */
export interface DescendantWatch {
  /** Stops looking and kills every noted descendant that still runs; how many were killed. */
  finish(): Promise<number>;
}

const EARLY_MS = 2_000;
const CALM_MS = 15_000;
const EARLY_FOR_MS = 60_000;

export function watchDescendants(
  root: number,
  platform: NodeJS.Platform,
  list: (pid: number) => Promise<number[]> = windowsDescendants,
): DescendantWatch {
  if (platform !== "win32") return { finish: async () => 0 };
  const seen = new Map<number, ProcessIdentity>();
  const startedMs = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let looking: Promise<void> = Promise.resolve();
  let stopped = false;
  const look = async () => {
    for (const pid of await list(root)) {
      if (seen.has(pid)) continue;
      seen.set(pid, { pid, start: await processStart(pid, platform) });
    }
  };
  const schedule = () => {
    if (stopped) return;
    const delay = Date.now() - startedMs < EARLY_FOR_MS ? EARLY_MS : CALM_MS;
    timer = setTimeout(() => {
      looking = look().catch(() => undefined);
      void looking.then(schedule);
    }, delay);
  };
  timer = setTimeout(() => {
    looking = look().catch(() => undefined);
    void looking.then(schedule);
  }, 500);
  return {
    async finish() {
      stopped = true;
      clearTimeout(timer);
      await looking;
      let killed = 0;
      for (const identity of seen.values()) {
        // Only what is provably the process that was seen: a pid reused since belongs to someone else.
        if ((await liveness(identity, platform)) !== "alive") continue;
        try {
          process.kill(identity.pid, "SIGKILL");
          killed++;
        } catch {
          // Ended by itself meanwhile.
        }
      }
      return killed;
    },
  };
}
