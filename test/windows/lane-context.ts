import assert from "node:assert/strict";
import path from "node:path";
import type { LinuxSide } from "./lane-queue.ts";
import type { WineLane } from "./wine-setup.ts";
import { zPath } from "./wine-setup.ts";

/** What every case of the lane shares: one queue the Linux side submits to, one Wine prefix. */
export interface LaneContext {
  lane: WineLane;
  repo: string;
  /** The lane's Linux scratch folder; Windows sees it as Z:\... */
  dir: string;
  queue: string;
  studies: string;
  /** The Linux path of the runner's work folder C:\atomizer-lane\work (inside the Wine prefix). */
  workLinux: string;
  linux: LinuxSide;
  /** The runner's options: queue as given, work on drive C:, state relative to the lane folder. */
  runnerArgs(queueWin: string, extra?: string[]): string[];
  /** Environment for a wine call: the process-start helper, and the replacement taskkill unless `stockTaskkill`. */
  wineEnv(options?: { stockTaskkill?: boolean; extra?: NodeJS.ProcessEnv }): NodeJS.ProcessEnv;
  /** A fresh output file for one wine process. */
  outFile(name: string): string;
}

export function laneContext(lane: WineLane, repo: string, dir: string, linux: LinuxSide): LaneContext {
  let files = 0;
  return {
    lane,
    repo,
    dir,
    queue: path.join(dir, "queue"),
    studies: path.join(dir, "studies"),
    workLinux: path.join(String(lane.env.WINEPREFIX), "drive_c", "atomizer-lane", "work"),
    linux,
    runnerArgs: (queueWin, extra = []) => [
      zPath(path.join(repo, "bin", "atomizer-jobs.js")),
      "runner",
      "--queue",
      queueWin,
      "--work",
      "C:\\atomizer-lane\\work",
      "--state",
      "state",
      "--python",
      zPath(lane.nodeExe),
      "--slots",
      "4",
      "--heartbeat",
      "1",
      "--rescan",
      "1",
      "--kill-grace",
      "1",
      ...extra,
    ],
    wineEnv: (options = {}) => ({
      ATOMIZER_PROCESS_START: `${zPath(lane.toolsDir)}\\process-start.exe`,
      // Wine puts WINEPATH before system32: the lane's taskkill (with /T) then shadows Wine's.
      WINEPATH: options.stockTaskkill ? "" : zPath(lane.toolsDir),
      ...options.extra,
    }),
    outFile: (name) => path.join(dir, `${String(++files).padStart(2, "0")}-${name}.log`),
  };
}

export { assert };
