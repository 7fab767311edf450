import { createHash, randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import { lstat, mkdir, readdir } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { pidAlive, removeTree } from "../../protocol/index.ts";

// <queue>/.staging/ holds job folders being assembled (submit), archive copies and outbox entries on
// their way out (trash). A process killed mid-way leaves its folder behind, and nothing else would
// ever remove it. Several server processes share one staging folder (one stdio server per agent
// gateway, the CLI, an HTTP server), so a folder may only go when it is provably abandoned:
//  - its name says which host and process made it, and that process is gone (a pid that is not alive
//    on this host cannot still be writing; our own pid with another start time is an earlier
//    incarnation, common in containers where the server is always pid 1 or 7), or
//  - it is older than STALE_STAGING_MS, whoever made it: no submit or archive takes a day, and this
//    also covers folders from other hosts or containers (whose pids say nothing here), folders named
//    before this scheme, and a dead owner's pid reused by a live process.
// A live process's folder is never touched, so a slow submit elsewhere is never cut off.

export const STAGING_KINDS = ["submit", "archive", "trash"] as const;
export type StagingKind = (typeof STAGING_KINDS)[number];

/** A staging folder untouched for this long is abandoned, whoever made it. */
export const STALE_STAGING_MS = 24 * 3600 * 1000;

export interface StagingOwner {
  kind: StagingKind;
  host: string;
  pid: number;
  /** The owner process's start time, base 36 milliseconds. */
  started: string;
}

/**
 * This process's start time (ms) as it appears in staging names. Derived from the process uptime, so
 * every thread of one process gets the same value give or take clock jitter (START_TOLERANCE_MS).
 */
export function processStartMs(): number {
  return Math.round(Date.now() - process.uptime() * 1000);
}
const START_TOLERANCE_MS = 5000;

/** Short, name-safe tag of this host, so a pid is only judged on the host that issued it. */
export function hostTag(name = hostname()): string {
  return createHash("sha256").update(name).digest("hex").slice(0, 8);
}

/** `<kind>-<host tag>-<pid>-<start>-<random>[-label]`: who made the folder is in its name. */
export function stagingName(kind: StagingKind, label = ""): string {
  const safe = label.replace(/[^a-z0-9-]/gi, "").slice(0, 20);
  const random = randomBytes(6).toString("hex");
  return `${kind}-${hostTag()}-${process.pid}-${processStartMs().toString(36)}-${random}${safe ? `-${safe}` : ""}`;
}

const STAGING_NAME =
  /^(submit|archive|trash)-([0-9a-f]{8})-(\d{1,10})-([0-9a-z]{1,12})-[0-9a-f]{12}(?:-[A-Za-z0-9-]*)?$/;

export function parseStagingName(name: string): StagingOwner | undefined {
  const match = STAGING_NAME.exec(name);
  if (!match) return undefined;
  return {
    kind: match[1] as StagingKind,
    host: match[2] as string,
    pid: Number(match[3]),
    started: match[4] as string,
  };
}

/** A new, empty staging folder of this process. */
export async function makeStagingDir(stagingDir: string, kind: StagingKind, label = ""): Promise<string> {
  await mkdir(stagingDir, { recursive: true });
  const dir = join(stagingDir, stagingName(kind, label));
  await mkdir(dir);
  return dir;
}

export interface CleanOptions {
  now?: number;
  maxAgeMs?: number;
  isAlive?: (pid: number) => boolean;
  host?: string;
}

export interface StagingCleanup {
  removed: string[];
  kept: string[];
}

/** Why a staging entry is abandoned, or undefined when it may still be in use. */
export function abandonedBecause(
  name: string,
  mtimeMs: number,
  options: Required<CleanOptions>,
): string | undefined {
  const owner = parseStagingName(name);
  if (owner && owner.host === options.host) {
    if (owner.pid === process.pid) {
      const started = Number.parseInt(owner.started, 36);
      if (Math.abs(started - processStartMs()) > START_TOLERANCE_MS) {
        return `its process ${owner.pid} was an earlier one with the same pid`;
      }
    } else if (!options.isAlive(owner.pid)) return `its process ${owner.pid} is gone`;
  }
  if (options.now - mtimeMs > options.maxAgeMs) return `untouched for over ${options.maxAgeMs / 3600_000} h`;
  return undefined;
}

/**
 * Removes the staging folders that are provably abandoned (see above); never throws, since hygiene
 * must not keep a server from starting or hide the error that triggered it.
 */
export async function cleanStaleStaging(
  stagingDir: string,
  options: CleanOptions = {},
): Promise<StagingCleanup> {
  const settings: Required<CleanOptions> = {
    now: options.now ?? Date.now(),
    maxAgeMs: options.maxAgeMs ?? STALE_STAGING_MS,
    isAlive: options.isAlive ?? pidAlive,
    host: options.host ?? hostTag(),
  };
  const result: StagingCleanup = { removed: [], kept: [] };
  let entries: Dirent[];
  try {
    entries = await readdir(stagingDir, { withFileTypes: true });
  } catch {
    return result;
  }
  for (const entry of entries) {
    const path = join(stagingDir, entry.name);
    try {
      const stats = await lstat(path);
      if (abandonedBecause(entry.name, stats.mtimeMs, settings) === undefined) {
        result.kept.push(entry.name);
        continue;
      }
      await removeTree(path);
      result.removed.push(entry.name);
    } catch {
      // Gone already (another process cleaned it) or locked for now: the next cleanup tries again.
      result.kept.push(entry.name);
    }
  }
  return result;
}
