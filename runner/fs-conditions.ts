import { errnoCode } from "../protocol/errors.ts";

/**
 * Errors that say nothing about the job but about the machine (a full disk, too many open files, a
 * failing device): the step is retried later with the reason visible, never turned into a verdict on
 * the job. Everything else about a job's files fails the same way every time.
 */
const MACHINE_CODES: Record<string, string> = {
  ENOSPC: "the disk is full",
  EDQUOT: "the disk quota is used up",
  EMFILE: "too many open files in the runner",
  ENFILE: "too many open files on this machine",
  EIO: "the disk reports an input/output error",
  EAGAIN: "the system is busy",
  ETIMEDOUT: "a file operation timed out",
};

/** Why a failed file operation should be retried later, or undefined when it is about the job itself. */
export function machineCondition(error: unknown): string | undefined {
  const code = errnoCode(error);
  const what = code === undefined ? undefined : MACHINE_CODES[code];
  return what === undefined ? undefined : `${what} (${code})`;
}
