import { errnoCode } from "./errors.ts";

/**
 * Whether some process holds this pid (signal 0; EPERM means one does, owned by another user). A pid
 * alone proves nothing about which process that is: pair it with a start time where it matters.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === "EPERM";
  }
}
