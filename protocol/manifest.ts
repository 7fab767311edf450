import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, ProtocolError } from "./errors.ts";
import { hashFile } from "./file-hash.ts";
import type { FileEntry } from "./job-schema.ts";
import { MAX_MANIFEST_ENTRIES } from "./limits.ts";
import { checkJobPath } from "./path-rules.ts";
import { ATOMIC_TEMP_PREFIX, ATOMIC_TEMP_SUFFIX, JOB_FILE } from "./queue-layout.ts";
import { isConflictCopy, isSyncthingArtefact, syncthingTempTarget } from "./syncthing-names.ts";

export type { HashedFile, HashOptions, ReadBuffers } from "./file-hash.ts";
export { copyAndHashFile, hashFile, readBuffers, STREAM_CHUNK } from "./file-hash.ts";

export interface JobTreeListing {
  /** Job files, relative POSIX paths, sorted. Excludes the root job.json. */
  files: string[];
  /** Syncthing conflict copies found: an alarm, never job files. */
  conflicts: string[];
  /** Syncthing or atomizer temp files: something is still being written. */
  temps: string[];
  /** Symbolic links, sockets and other non-regular entries: never part of a job. */
  unsupported: string[];
}

function isOwnTemp(name: string): boolean {
  return name.startsWith(ATOMIC_TEMP_PREFIX) && name.endsWith(ATOMIC_TEMP_SUFFIX);
}

/** Lists a job folder without following links. Syncthing markers and temp files are kept apart. */
export async function listJobTree(root: string): Promise<JobTreeListing> {
  const listing: JobTreeListing = { files: [], conflicts: [], temps: [], unsupported: [] };
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(relative === "" ? root : join(root, relative), { withFileTypes: true });
    for (const entry of entries) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (isConflictCopy(entry.name)) listing.conflicts.push(path);
      else if (isSyncthingArtefact(entry.name) || isOwnTemp(entry.name)) {
        if (entry.name.endsWith(".tmp")) listing.temps.push(path);
      } else if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        if (path !== JOB_FILE) listing.files.push(path);
      } else listing.unsupported.push(path);
    }
  };
  await walk("");
  for (const list of Object.values(listing)) list.sort();
  return listing;
}

/** Builds the manifest of a folder: every regular file but the root job.json, sorted by path. */
export async function buildManifest(root: string, paths?: readonly string[]): Promise<FileEntry[]> {
  const files = paths ?? (await listJobTree(root)).files;
  const entries: FileEntry[] = [];
  for (const path of files) {
    const { size, sha256 } = await hashFile(join(root, ...path.split("/")));
    entries.push({ path, size, sha256 });
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface SizeProblem {
  path: string;
  expected: number;
  actual: number;
}

export interface ManifestCheck {
  /** Every file present with its size and hash. */
  complete: boolean;
  /** Listed but absent. */
  missing: string[];
  /** Present but smaller than listed: still arriving. */
  short: SizeProblem[];
  /** Present but larger than listed. */
  oversized: SizeProblem[];
  /** Right size, wrong content. */
  hash_mismatch: string[];
  /** Listed files for which Syncthing is writing a temp file right now. */
  in_transit: string[];
  /** Present in the folder but not in the manifest (reported, not fatal). */
  unexpected: string[];
  /** Syncthing conflict copies: an alarm. */
  conflicts: string[];
  /** Links and special files: never accepted. */
  unsupported: string[];
  /** Listed entries that are folders or links instead of files. */
  not_a_file: string[];
}

export interface VerifyOptions {
  /** Skip hashing (a quick completeness check before the expensive one). */
  sizesOnly?: boolean;
}

/**
 * Verifies a folder against a manifest and says exactly which files are missing, short, oversized or
 * different. Sizes are checked for every file before any hashing, so an incomplete transfer costs no
 * reads.
 */
export async function verifyManifest(
  root: string,
  manifest: readonly FileEntry[],
  options: VerifyOptions = {},
): Promise<ManifestCheck> {
  // A manifest is data from another machine: never let it make us stat or hash outside `root`.
  if (manifest.length > MAX_MANIFEST_ENTRIES) {
    throw new ProtocolError(
      "invalid_job",
      `manifest lists ${manifest.length} files; at most ${MAX_MANIFEST_ENTRIES} are allowed (MAX_MANIFEST_ENTRIES): pack small files into an archive`,
      { entries: manifest.length },
    );
  }
  const escaping = manifest.map((entry) => checkJobPath(entry.path)).find((problem) => problem !== undefined);
  if (escaping && escaping.rule !== "reserved_job_file") {
    throw new ProtocolError("invalid_path", `manifest entry ${escaping.message}`, { path: escaping.path });
  }
  const listing = await listJobTree(root);
  const check: ManifestCheck = {
    complete: false,
    missing: [],
    short: [],
    oversized: [],
    hash_mismatch: [],
    in_transit: [],
    unexpected: [],
    conflicts: listing.conflicts,
    unsupported: listing.unsupported,
    not_a_file: [],
  };
  const tempTargets = new Set(
    listing.temps.map((temp) => {
      const slash = temp.lastIndexOf("/");
      const name = temp.slice(slash + 1);
      return `${temp.slice(0, slash + 1)}${syncthingTempTarget(name) ?? name}`;
    }),
  );
  const listed = new Set(manifest.map((entry) => entry.path));
  // lstat follows links in the folders on the way: an entry below a linked folder is not in the job.
  const linked = new Set(listing.unsupported);
  const throughLink = (path: string): boolean => {
    for (let slash = path.indexOf("/"); slash !== -1; slash = path.indexOf("/", slash + 1)) {
      if (linked.has(path.slice(0, slash))) return true;
    }
    return false;
  };
  check.unexpected = listing.files.filter((path) => !listed.has(path));
  const sized: FileEntry[] = [];
  for (const entry of manifest) {
    if (tempTargets.has(entry.path)) check.in_transit.push(entry.path);
    if (throughLink(entry.path)) {
      check.not_a_file.push(entry.path);
      continue;
    }
    let stats: Awaited<ReturnType<typeof lstat>>;
    try {
      stats = await lstat(join(root, ...entry.path.split("/")));
    } catch (error) {
      const code = errnoCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") {
        check.missing.push(entry.path);
        continue;
      }
      throw error;
    }
    if (!stats.isFile()) check.not_a_file.push(entry.path);
    else if (stats.size < entry.size)
      check.short.push({ path: entry.path, expected: entry.size, actual: stats.size });
    else if (stats.size > entry.size)
      check.oversized.push({ path: entry.path, expected: entry.size, actual: stats.size });
    else sized.push(entry);
  }
  const sizesOk =
    check.missing.length === 0 &&
    check.short.length === 0 &&
    check.oversized.length === 0 &&
    check.not_a_file.length === 0;
  if (!sizesOk || options.sizesOnly) {
    check.complete = sizesOk && options.sizesOnly === true;
    return check;
  }
  for (const entry of sized) {
    const { sha256 } = await hashFile(join(root, ...entry.path.split("/")));
    if (sha256 !== entry.sha256) check.hash_mismatch.push(entry.path);
  }
  check.complete = check.hash_mismatch.length === 0;
  return check;
}

/** One short sentence naming what keeps a folder from matching its manifest, for job errors and tools. */
export function describeManifestCheck(check: ManifestCheck, limit = 10): string {
  const parts: string[] = [];
  const list = (items: readonly string[]) =>
    items.length > limit
      ? `${items.slice(0, limit).join(", ")} and ${items.length - limit} more`
      : items.join(", ");
  if (check.missing.length > 0) parts.push(`missing: ${list(check.missing)}`);
  if (check.short.length > 0) {
    parts.push(
      `incomplete: ${list(check.short.map((s) => `${s.path} (${s.actual} of ${s.expected} bytes)`))}`,
    );
  }
  if (check.oversized.length > 0) {
    parts.push(
      `larger than listed: ${list(check.oversized.map((s) => `${s.path} (${s.actual}, expected ${s.expected})`))}`,
    );
  }
  if (check.hash_mismatch.length > 0) parts.push(`content differs (sha256): ${list(check.hash_mismatch)}`);
  if (check.not_a_file.length > 0) parts.push(`not a regular file: ${list(check.not_a_file)}`);
  if (check.conflicts.length > 0) parts.push(`Syncthing conflict copies: ${list(check.conflicts)}`);
  if (check.unsupported.length > 0) parts.push(`links or special files: ${list(check.unsupported)}`);
  return parts.length > 0 ? parts.join("; ") : "all files present and verified";
}
