import type { Job } from "../../protocol/index.ts";
import { errnoCode, isProtocolError, readJob } from "../../protocol/index.ts";

/** A job.json as found on disk: absent, valid, or present but unusable (named, never guessed at). */
export type JobRead = { kind: "absent" } | { kind: "ok"; job: Job } | { kind: "invalid"; problem: string };

/** Reads `<dir>/job.json` without throwing: a half-synced or malformed file is a fact to report. */
export async function readJobAt(dir: string): Promise<JobRead> {
  try {
    return { kind: "ok", job: await readJob(dir) };
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "absent" };
    if (isProtocolError(error)) return { kind: "invalid", problem: error.message };
    return { kind: "invalid", problem: error instanceof Error ? error.message : String(error) };
  }
}
