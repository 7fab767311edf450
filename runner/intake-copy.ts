import { randomBytes } from "node:crypto";
import { lstat, rename } from "node:fs/promises";
import path from "node:path";
import type { FileEntry } from "../protocol/index.ts";
import { copyVerifiedFiles, errnoCode, removeTree, withFsRetry } from "../protocol/index.ts";
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

/**
 * Copies every listed file into `staging`, hashing as it reads (protocol's copyVerifiedFiles): the copy
 * that runs is the copy verified. A file reached through a linked folder inside the job is refused,
 * not followed; a full work disk is the machine's problem, not the job's, and is thrown for the caller
 * to wait and retry.
 */
export async function copyVerified(
  source: string,
  staging: string,
  paths: readonly string[],
  expected?: ReadonlyMap<string, FileEntry>,
): Promise<CopyOutcome> {
  const report = await copyVerifiedFiles(
    source,
    staging,
    paths.map((path) => ({ path, expected: expected?.get(path) })),
    { within: source },
  );
  if (report.failed) {
    if (machineCondition(report.failed.error)) throw report.failed.error;
    const { path, error } = report.failed;
    return { ok: false, unreadable: `${path} (${errnoCode(error) ?? (error as Error).message})` };
  }
  const [refused] = report.refused;
  if (refused) return { ok: false, unreadable: `${refused.path} (${refused.rule ?? "unsafe_file"})` };
  if (!report.complete) return { ok: false, mismatched: report.mismatched, vanished: report.missing };
  return { ok: true, manifest: report.copied };
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
