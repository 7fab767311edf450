import { lstat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { ManifestCheck, ResultsManifest } from "../../protocol/index.ts";
import { checkJobPath, describeManifestCheck, errnoCode, verifyManifest } from "../../protocol/index.ts";

export const ResultsSyncSchema = z.object({
  /** job.json carries a results manifest (written last by the runner). */
  manifest: z.boolean(),
  files_total: z.number().int(),
  /** Present with the listed size. */
  files_synced: z.number().int(),
  /** Every file present, sized and hashed as listed. */
  complete: z.boolean(),
  missing: z.array(z.string()),
  hash_mismatch: z.array(z.string()),
  summary: z.string(),
});
export type ResultsSync = z.infer<typeof ResultsSyncSchema>;

/** No result files known yet; `summary` says why. */
export function noResults(summary: string): ResultsSync {
  return {
    manifest: false,
    files_total: 0,
    files_synced: 0,
    complete: false,
    missing: [],
    hash_mismatch: [],
    summary,
  };
}

const MAX_LISTED = 20;
const MAX_CACHED = 2000;

/**
 * Remembers full (hashing) verifications by file sizes and mtimes, so repeated status calls on a
 * finished job cost a few stats instead of re-hashing study.db each time. Owned by the server context.
 */
export class VerificationCache {
  readonly #entries = new Map<string, { signature: string; check: ManifestCheck }>();

  get(key: string, signature: string): ManifestCheck | undefined {
    const entry = this.#entries.get(key);
    return entry && entry.signature === signature ? entry.check : undefined;
  }

  set(key: string, signature: string, check: ManifestCheck): void {
    if (this.#entries.size >= MAX_CACHED) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { signature, check });
  }
}

export interface CheckOptions {
  /** false: stop at the sizes (no hashing) unless an earlier full check of the same files is cached. */
  hash?: boolean;
}

/** A check that stopped at the sizes: every file there, contents not hashed. */
export interface SizedOnly {
  sync: ResultsSync;
  hashed: false;
}

/**
 * Whether a finished job's result files have all arrived: "3 of 7 result files synced". With
 * hash: false, a check that got as far as hashing returns `{hashed: false}` instead.
 */
export async function checkResults(
  dir: string,
  results: ResultsManifest | undefined,
  cache: VerificationCache,
): Promise<ResultsSync>;
export async function checkResults(
  dir: string,
  results: ResultsManifest | undefined,
  cache: VerificationCache,
  options: CheckOptions,
): Promise<ResultsSync | SizedOnly>;
export async function checkResults(
  dir: string,
  results: ResultsManifest | undefined,
  cache: VerificationCache,
  options: CheckOptions = {},
): Promise<ResultsSync | SizedOnly> {
  if (!results) return noResults("job.json has no results manifest");
  // Paths from the other machine pass the path rules before any fs call (a 5,000-byte path would fail
  // lstat with ENAMETOOLONG and take the whole status call down with it).
  const bad = results.files
    .map((entry) => checkJobPath(entry.path))
    .find((problem) => problem !== undefined && problem.rule !== "reserved_job_file");
  if (bad) {
    return {
      ...noResults(
        `the results manifest lists an invalid path, so the results cannot be verified: ${bad.message} (rule ${bad.rule}); the runner must republish them`,
      ),
      manifest: true,
      files_total: results.files.length,
    };
  }
  const missing: string[] = [];
  const special: string[] = [];
  const signature: string[] = [];
  let synced = 0;
  for (const entry of results.files) {
    try {
      const stats = await lstat(join(dir, ...entry.path.split("/")));
      signature.push(`${entry.path}:${stats.size}:${stats.mtimeMs}`);
      if (stats.isFile() && stats.size === entry.size) synced++;
      else {
        missing.push(entry.path);
        if (!stats.isFile() && !stats.isDirectory()) special.push(entry.path);
      }
    } catch (error) {
      const code = errnoCode(error);
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
      missing.push(entry.path);
    }
  }
  const total = results.files.length;
  if (special.length > 0) {
    return {
      ...noResults(
        `${special.length} result files are links or special files (${special.slice(0, 3).join(", ")}); they are never read: the runner must republish them as regular files`,
      ),
      manifest: true,
      files_total: total,
      files_synced: synced,
      missing: missing.slice(0, MAX_LISTED),
    };
  }
  if (synced < total) {
    return {
      manifest: true,
      files_total: total,
      files_synced: synced,
      complete: false,
      missing: missing.slice(0, MAX_LISTED),
      hash_mismatch: [],
      summary: `${synced} of ${total} result files synced; waiting for ${missing.length} (${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", ..." : ""})`,
    };
  }
  const key = `${dir}|${results.published_at}`;
  const sig = signature.join("|");
  let check = cache.get(key, sig);
  if (!check && options.hash === false) {
    return {
      hashed: false,
      sync: {
        manifest: true,
        files_total: total,
        files_synced: total,
        complete: false,
        missing: [],
        hash_mismatch: [],
        summary: `${total} of ${total} result files synced (contents not hashed yet)`,
      },
    };
  }
  if (!check) {
    check = await verifyManifest(dir, results.files);
    cache.set(key, sig, check);
  }
  const wrong = [
    ...check.hash_mismatch,
    ...check.missing,
    ...check.not_a_file,
    ...check.short.map((s) => s.path),
    ...check.oversized.map((s) => s.path),
  ];
  return {
    manifest: true,
    files_total: total,
    files_synced: total - wrong.length,
    complete: check.complete,
    missing: check.missing.slice(0, MAX_LISTED),
    hash_mismatch: check.hash_mismatch.slice(0, MAX_LISTED),
    summary: check.complete
      ? `${total} of ${total} result files synced and verified`
      : check.not_a_file.length > 0
        ? `${total - wrong.length} of ${total} result files verified; ${describeManifestCheck(check, 3)}: links and special files are never read`
        : `${total - wrong.length} of ${total} result files verified; content differs for ${wrong.slice(0, 3).join(", ")} (still syncing?)`,
  };
}
