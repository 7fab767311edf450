import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { parseArchiveDirName } from "./archive-name.ts";
import { withFsRetry } from "./atomic-fs.ts";
import { errnoCode } from "./errors.ts";
import { isJobId } from "./job-id.ts";
import type { QueuePaths } from "./queue-layout.ts";

// What the queue folders hold, by name alone: archive/<job_id>-<UTC stamp>/ folders and the
// outbox/inbox job folders. Only folders count (an archive or job folder is made by rename or by
// Syncthing, never as a file or link), and a missing queue folder is an empty one.

export interface ArchiveDir {
  /** The folder's name inside archive/. */
  name: string;
  job_id: string;
  /** ISO UTC time the name carries. */
  archived_at: string;
}

/** Job folders start so in outbox/ and inbox/; other names there (.cancel, .runners, .stignore) are not jobs. */
const JOB_DIR_PREFIX = "job-";

async function folders(dir: string): Promise<Dirent[]> {
  try {
    const entries = await withFsRetry(() => readdir(dir, { withFileTypes: true }));
    return entries.filter((entry) => entry.isDirectory());
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw error;
  }
}

/** Newest first; two archives of one job made in one second differ by name, so the order is total. */
function newestFirst(a: ArchiveDir, b: ArchiveDir): number {
  if (a.archived_at !== b.archived_at) return a.archived_at < b.archived_at ? 1 : -1;
  return a.name < b.name ? 1 : a.name > b.name ? -1 : 0;
}

/** Every archive folder whose name is `<job_id>-<UTC stamp>`, newest first. */
export async function listArchiveDirs(archive: string): Promise<ArchiveDir[]> {
  const found: ArchiveDir[] = [];
  for (const entry of await folders(archive)) {
    const parsed = parseArchiveDirName(entry.name);
    if (parsed) found.push({ name: entry.name, ...parsed });
  }
  return found.sort(newestFirst);
}

/** The archive folder names of one job, newest first (empty when it was never archived). */
export async function archiveDirsOf(queue: Pick<QueuePaths, "archive">, jobId: string): Promise<string[]> {
  return (await listArchiveDirs(queue.archive)).filter((dir) => dir.job_id === jobId).map((dir) => dir.name);
}

/** The job an archive/ folder name holds, when it is `<job_id>-<UTC stamp>` with a well-formed job id. */
export function archivedJobId(name: string): string | undefined {
  const id = parseArchiveDirName(name)?.job_id;
  return id !== undefined && isJobId(id) ? id : undefined;
}

/** Every well-formed job id with at least one archive folder. */
export async function archivedJobIds(queue: Pick<QueuePaths, "archive">): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const dir of await listArchiveDirs(queue.archive)) if (isJobId(dir.job_id)) ids.add(dir.job_id);
  return ids;
}

/** Job folder names directly in outbox/ or inbox/ (`job-...` folders; a near-miss id still counts). */
export async function jobFolderNames(dir: string): Promise<string[]> {
  return (await folders(dir)).map((entry) => entry.name).filter((name) => name.startsWith(JOB_DIR_PREFIX));
}

/**
 * Every job id the queue holds in outbox/, inbox/ or archive/, sorted: what a lookup without an index
 * suggests from. Near-miss ids count (they are what a mistyped id is closest to).
 */
export async function queueJobIds(
  queue: Pick<QueuePaths, "outbox" | "inbox" | "archive">,
): Promise<string[]> {
  const [outbox, inbox, archived] = await Promise.all([
    jobFolderNames(queue.outbox),
    jobFolderNames(queue.inbox),
    listArchiveDirs(queue.archive),
  ]);
  const ids = new Set([...outbox, ...inbox]);
  for (const dir of archived) if (dir.job_id.startsWith(JOB_DIR_PREFIX)) ids.add(dir.job_id);
  return [...ids].sort();
}
