import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { FileEntry, OpenRegularOptions } from "../../protocol/index.ts";
import {
  copyAndHashFile,
  errnoCode,
  isProtocolError,
  tempPathFor,
  withFsRetry,
} from "../../protocol/index.ts";

export type CopyOutcome = "ok" | "missing" | "mismatch" | "refused";

export interface CopyResult {
  outcome: CopyOutcome;
  /** Why a "refused" copy was refused: the source is a link or special file, or leads outside. */
  reason?: string;
}

/**
 * Copies one file into our own folder, hashing on the way, and renames it in only when it matches
 * `expected` (size and sha256): a file still syncing or changed after it was listed never lands. A
 * source that is a link or special file (or, with `within`, lies outside that folder) is refused and
 * nothing is copied: results in a synced folder are data from another machine.
 */
export async function copyVerified(
  source: string,
  target: string,
  expected: FileEntry | undefined,
  options: OpenRegularOptions = {},
): Promise<CopyResult> {
  await mkdir(dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  try {
    const hashed = await copyAndHashFile(source, temp, options);
    if (expected && (hashed.size !== expected.size || hashed.sha256 !== expected.sha256)) {
      await rm(temp, { force: true });
      return { outcome: "mismatch" };
    }
    await withFsRetry(() => rename(temp, target));
    return { outcome: "ok" };
  } catch (error) {
    await rm(temp, { force: true });
    if (isProtocolError(error, "unsafe_file")) return { outcome: "refused", reason: error.message };
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { outcome: "missing" };
    throw error;
  }
}
