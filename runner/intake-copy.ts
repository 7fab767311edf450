import { randomBytes } from "node:crypto";
import { lstat, rename } from "node:fs/promises";
import path from "node:path";
import type { FileEntry } from "../protocol/index.ts";
import { copyAndHashFile, errnoCode, removeTree, withFsRetry } from "../protocol/index.ts";
import { machineCondition } from "./fs-conditions.ts";
import type { RunnerPaths } from "./paths.ts";
import { localPath } from "./paths.ts";

// The copy half of intake: a job is copied into a staging folder in the work folder, hashed as it is
// read, and renamed into place whole; the copy that runs is the copy that was verified.

export function signatureOf(entries: readonly { path: string; size: number; mtimeMs: number }[]): string {
  return JSON.stringify(entries.map((e) => [e.path, e.size, Math.round(e.mtimeMs)]));
}

export async function statAll(
  root: string,
  paths: readonly string[],
): Promise<{ path: string; size: number; mtimeMs: number }[]> {
  const out = [];
  for (const relative of paths) {
    try {
      const stats = await lstat(localPath(root, relative));
      out.push({ path: relative, size: stats.size, mtimeMs: stats.mtimeMs });
    } catch {
      out.push({ path: relative, size: -1, mtimeMs: 0 });
    }
  }
  return out;
}

export type CopyOutcome =
  | { ok: true; manifest: FileEntry[] }
  | { ok: false; mismatched: string[]; vanished: string[] }
  | { ok: false; unreadable: string };

/** Copies every listed file into `staging`, hashing as it reads: the copy that runs is the copy verified. */
export async function copyVerified(
  source: string,
  staging: string,
  paths: readonly string[],
  expected?: ReadonlyMap<string, FileEntry>,
): Promise<CopyOutcome> {
  const manifest: FileEntry[] = [];
  const mismatched: string[] = [];
  const vanished: string[] = [];
  for (const relative of paths) {
    let hashed: { size: number; sha256: string };
    try {
      hashed = await withFsRetry(() =>
        // `within`: a file reached through a linked folder inside the job is refused, not followed.
        copyAndHashFile(localPath(source, relative), localPath(staging, relative), { within: source }),
      );
    } catch (error) {
      const code = errnoCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") {
        vanished.push(relative);
        continue;
      }
      // A full work disk is the machine's problem, not the job's: the caller waits and retries.
      if (machineCondition(error)) throw error;
      return { ok: false, unreadable: `${relative} (${code ?? (error as Error).message})` };
    }
    const want = expected?.get(relative);
    if (want && (want.sha256 !== hashed.sha256 || want.size !== hashed.size)) mismatched.push(relative);
    manifest.push({ path: relative, ...hashed });
  }
  if (mismatched.length > 0 || vanished.length > 0) return { ok: false, mismatched, vanished };
  return { ok: true, manifest };
}

/** Runs a copy into `staging`; if it throws (a full disk), the partial staging folder goes too. */
export async function copyOrClean<T>(staging: string, copy: () => Promise<T>): Promise<T> {
  try {
    return await copy();
  } catch (error) {
    await removeTree(staging).catch(() => undefined);
    throw error;
  }
}

export function stagingFor(paths: RunnerPaths, jobId: string): string {
  return path.join(paths.workDir, ".staging", `${jobId}.${randomBytes(4).toString("hex")}`);
}

export async function promote(paths: RunnerPaths, jobId: string, staging: string): Promise<void> {
  const target = paths.workJob(jobId);
  // Left by a crash between copy and ledger: that attempt never counted, so it is safe to replace.
  await removeTree(target);
  await withFsRetry(() => rename(staging, target));
}
