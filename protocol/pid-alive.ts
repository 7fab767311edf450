import { readFile } from "node:fs/promises";
import { errnoCode } from "./errors.ts";

// The one "is this process alive" check of every side (the runner's process identities and tree kill,
// the other-runner guard, the submitting side's staging cleanup, the notifier's lock). Kept free of zod
// and execa: the runner's supervisor starts once per job and imports this file directly.

/**
 * Whether some process holds this pid (signal 0; EPERM means one does, owned by another user). A pid
 * alone proves nothing about which process that is: pair it with a start time where it matters. A
 * zombie (exited, not reaped yet) still holds its pid: isProcessAlive tells it apart.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === "EPERM";
  }
}

/** Whether a process runs. On Linux a zombie (exited, not yet reaped by its parent) counts as gone. */
export async function isProcessAlive(
  pid: number,
  platform: NodeJS.Platform = process.platform,
): Promise<boolean> {
  if (!pidAlive(pid)) return false;
  if (platform !== "linux") return true;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}
