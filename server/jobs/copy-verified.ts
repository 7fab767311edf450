import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { FileEntry } from "../../protocol/index.ts";
import { copyAndHashFile, errnoCode, tempPathFor, withFsRetry } from "../../protocol/index.ts";

export type CopyOutcome = "ok" | "missing" | "mismatch";

/**
 * Copies one file into our own folder, hashing on the way, and renames it in only when it matches
 * `expected` (size and sha256): a file still syncing or changed after it was listed never lands.
 */
export async function copyVerified(
  source: string,
  target: string,
  expected: FileEntry | undefined,
): Promise<CopyOutcome> {
  await mkdir(dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  try {
    const hashed = await copyAndHashFile(source, temp);
    if (expected && (hashed.size !== expected.size || hashed.sha256 !== expected.sha256)) {
      await rm(temp, { force: true });
      return "mismatch";
    }
    await withFsRetry(() => rename(temp, target));
    return "ok";
  } catch (error) {
    await rm(temp, { force: true });
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR") return "missing";
    throw error;
  }
}
