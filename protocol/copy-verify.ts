import { lstat, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { tempPathFor, withFsRetry } from "./atomic-fs.ts";
import { errnoCode, isProtocolError } from "./errors.ts";
import type { HashedFile } from "./file-hash.ts";
import { copyAndHashFile } from "./file-hash.ts";
import type { FileEntry } from "./job-schema.ts";
import { listJobTree } from "./manifest.ts";
import type { PathRule } from "./path-rules.ts";
import { checkJobPath } from "./path-rules.ts";

// Copying a job's files out of a synced folder, verified against the manifest that came with them:
// each file is hashed while it is copied (copyAndHashFile, one read of every byte), so the copy that is
// kept is the copy that was verified and nothing is read twice. Sources are data from another machine:
// a link, a special file or a file reached through a linked folder is refused, never followed.

/** One file to copy: a job-relative POSIX path, and the manifest entry it must match when there is one. */
export interface WantedFile {
  path: string;
  expected?: FileEntry | undefined;
}

export interface CopyFileOptions {
  /** A folder every source must really lie in (links on the way resolved). */
  within?: string;
  /**
   * Land each file by temp + rename, and only once it matches: a target folder that is kept (a local
   * working copy fetched again) never holds a file still syncing. Without it the file is written in
   * place, for a staging folder that is discarded whole when the copy fails.
   */
  atomic?: boolean;
}

export type CopyFileResult =
  | { outcome: "ok"; hashed: HashedFile }
  /** The source is not there (yet): still syncing, or removed. */
  | { outcome: "missing" }
  /** Copied, but its size or sha256 differ from the manifest's: changed after it was listed, or still arriving. */
  | { outcome: "mismatch"; hashed: HashedFile }
  /** A link or special file, or outside `within`: nothing was copied. */
  | { outcome: "refused"; reason: string };

function differs(hashed: HashedFile, expected: FileEntry | undefined): boolean {
  return expected !== undefined && (hashed.size !== expected.size || hashed.sha256 !== expected.sha256);
}

/**
 * Copies one file, hashing on the way, and says whether it matches `expected`. ENOENT and refusals are
 * outcomes; any other error (a full disk, EACCES after Windows' transient locks were retried) is thrown
 * for the caller to judge. With `atomic`, a mismatching copy never lands.
 */
export async function copyVerifiedFile(
  source: string,
  target: string,
  expected: FileEntry | undefined,
  options: CopyFileOptions = {},
): Promise<CopyFileResult> {
  const open = options.within === undefined ? {} : { within: options.within };
  const written = options.atomic ? tempPathFor(target) : target;
  // An earlier copy at the target (archive: the outbox file a runner result replaces) goes first.
  if (!options.atomic) await rm(target, { force: true });
  try {
    const hashed = await withFsRetry(() => copyAndHashFile(source, written, open));
    if (differs(hashed, expected)) {
      if (options.atomic) await rm(written, { force: true });
      return { outcome: "mismatch", hashed };
    }
    if (options.atomic) await withFsRetry(() => rename(written, target));
    return { outcome: "ok", hashed };
  } catch (error) {
    if (options.atomic) await rm(written, { force: true });
    if (isProtocolError(error, "unsafe_file")) return { outcome: "refused", reason: error.message };
    // Only the source's absence is "missing": a target folder that cannot be made is the caller's problem.
    if (isAbsent(error) && (await sourceAbsent(source))) return { outcome: "missing" };
    throw error;
  }
}

function isAbsent(error: unknown): boolean {
  const code = errnoCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
}

async function sourceAbsent(source: string): Promise<boolean> {
  try {
    await lstat(source);
    return false;
  } catch (error) {
    return isAbsent(error);
  }
}

export interface CopyFilesOptions extends CopyFileOptions {
  /** Stop at the first file missing, different or refused (default: look at every file). */
  stopAtFirstProblem?: boolean;
}

export interface CopyRefusal {
  path: string;
  /** Why, in words: the path rule broken, or what the file is instead of a regular file. */
  reason: string;
  /** The path rule the manifest entry breaks; absent when the file itself was refused. */
  rule?: PathRule;
}

export interface CopyReport {
  /** Every file copied and matching, with the size and sha256 read while copying it; in the order wanted. */
  copied: FileEntry[];
  missing: string[];
  mismatched: string[];
  refused: CopyRefusal[];
  /** The error that stopped the copy (any but ENOENT and a refusal), and at which file. */
  failed?: { path: string; error: unknown };
  /** Nothing missing, different, refused or failed. */
  complete: boolean;
}

/**
 * Copies files from `sourceRoot` to `targetRoot` (job-relative paths), verifying each against its
 * manifest entry. Paths come from another machine's manifest: one that breaks the path rules is
 * refused before any fs call (`job.json` itself may be named). `within` defaults to `sourceRoot`.
 * Stops at the first unexpected error (reported in `failed`), and with `stopAtFirstProblem` at the
 * first file that is missing, different or refused.
 */
export async function copyVerifiedFiles(
  sourceRoot: string,
  targetRoot: string,
  wanted: readonly WantedFile[],
  options: CopyFilesOptions = {},
): Promise<CopyReport> {
  const report: CopyReport = { copied: [], missing: [], mismatched: [], refused: [], complete: false };
  const fileOptions: CopyFileOptions = {
    within: options.within ?? sourceRoot,
    atomic: options.atomic === true,
  };
  for (const { path, expected } of wanted) {
    const violation = checkJobPath(path);
    if (violation && violation.rule !== "reserved_job_file") {
      report.refused.push({ path, reason: violation.message, rule: violation.rule });
    } else {
      const parts = path.split("/");
      let result: CopyFileResult;
      try {
        result = await copyVerifiedFile(
          join(sourceRoot, ...parts),
          join(targetRoot, ...parts),
          expected,
          fileOptions,
        );
      } catch (error) {
        report.failed = { path, error };
        return report;
      }
      if (result.outcome === "ok") report.copied.push({ path, ...result.hashed });
      else if (result.outcome === "missing") report.missing.push(path);
      else if (result.outcome === "mismatch") report.mismatched.push(path);
      else report.refused.push({ path, reason: result.reason });
    }
    if (options.stopAtFirstProblem && hasProblem(report)) return report;
  }
  report.complete = !hasProblem(report);
  return report;
}

function hasProblem(report: CopyReport): boolean {
  return (
    report.missing.length > 0 ||
    report.mismatched.length > 0 ||
    report.refused.length > 0 ||
    report.failed !== undefined
  );
}

/**
 * What to copy of a job folder: its manifest's entries when it has one, else every job file found in
 * it now (a plain SYS_19 job, or a job without a results manifest), optionally only those `keep` accepts.
 */
export async function wantedFiles(
  root: string,
  manifest: readonly FileEntry[] | undefined,
  keep: (path: string) => boolean = () => true,
): Promise<WantedFile[]> {
  if (manifest) return manifest.map((entry) => ({ path: entry.path, expected: entry }));
  return (await listJobTree(root)).files.filter(keep).map((path) => ({ path }));
}
