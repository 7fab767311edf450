import { randomBytes } from "node:crypto";
import { lstat, mkdir, open, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { backup, DatabaseSync } from "node:sqlite";
import type { FileEntry } from "../protocol/index.ts";
import {
  ATOMIC_TEMP_PREFIX,
  copyAndHashFile,
  errnoCode,
  isConflictCopy,
  isSyncthingArtefact,
  LOG_FILE,
  RESULTS_DIR,
  readLogTail,
  tailLines,
  tempPathFor,
  withFsRetry,
} from "../protocol/index.ts";
import { localPath } from "./paths.ts";

const SQLITE_EXTENSIONS = new Set([".db", ".sqlite", ".sqlite3"]);
// SQLite's sidecar files: their content is inside the consistent backup of the database itself.
const SQLITE_SIDECAR = /-(journal|wal|shm)$/;

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function renameIn(temp: string, target: string): Promise<void> {
  try {
    await withFsRetry(() => rename(temp, target));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Copies a file into a synced folder by temp + fsync + rename, hashing it on the way. */
export async function publishCopy(source: string, target: string): Promise<{ size: number; sha256: string }> {
  await mkdir(path.dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  let hashed: { size: number; sha256: string };
  try {
    hashed = await withFsRetry(() => copyAndHashFile(source, temp));
    await syncFile(temp);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await renameIn(temp, target);
  return hashed;
}

/**
 * Publishes a SQLite database as a consistent snapshot (the SQLite backup API), never a raw copy of a
 * file that may be mid-transaction. The snapshot is taken in `scratchDir` (local, not synced), so SQLite's
 * own journal files never appear in the synced folder, and switched to a rollback journal so the
 * published file stands alone (a WAL database would need -wal/-shm files beside it).
 */
export async function publishSqliteBackup(
  source: string,
  target: string,
  scratchDir: string,
): Promise<{ size: number; sha256: string }> {
  await mkdir(scratchDir, { recursive: true });
  const snapshot = path.join(scratchDir, `.atomizer-backup-${randomBytes(6).toString("hex")}.db`);
  try {
    const db = new DatabaseSync(source, { readOnly: true, timeout: 5000 });
    try {
      await backup(db, snapshot);
    } finally {
      db.close();
    }
    const copy = new DatabaseSync(snapshot);
    try {
      copy.exec("PRAGMA journal_mode = DELETE");
    } finally {
      copy.close();
    }
    return await publishCopy(snapshot, target);
  } finally {
    for (const suffix of ["", "-journal", "-wal", "-shm"]) await rm(`${snapshot}${suffix}`, { force: true });
  }
}

/** Result files of a work copy (relative to its 3_results/), links and temp files left out. */
export async function listResultFiles(resultsDir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(relative === "" ? resultsDir : localPath(resultsDir, relative), {
        withFileTypes: true,
      });
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return;
      throw error;
    }
    for (const entry of entries) {
      const rel = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (
        isSyncthingArtefact(entry.name) ||
        isConflictCopy(entry.name) ||
        entry.name.startsWith(ATOMIC_TEMP_PREFIX)
      )
        continue;
      if (entry.isDirectory()) await walk(rel);
      else if (entry.isFile() && !SQLITE_SIDECAR.test(entry.name)) found.push(rel);
    }
  };
  await walk("");
  return found.sort();
}

export interface PublishOutcome {
  /** Published files, paths relative to inbox/<job_id>/. */
  files: FileEntry[];
  /** Files that could not be published, with why. */
  problems: string[];
}

/**
 * Publishes a finished job's 3_results/ and then its stdout.log into inbox/<job_id>/. Each file is
 * renamed in whole; the caller writes job.json with the returned manifest last.
 */
export async function publishResults(workJobDir: string, inboxJobDir: string): Promise<PublishOutcome> {
  const outcome: PublishOutcome = { files: [], problems: [] };
  const resultsDir = path.join(workJobDir, RESULTS_DIR);
  for (const relative of await listResultFiles(resultsDir)) {
    const source = localPath(resultsDir, relative);
    const target = localPath(path.join(inboxJobDir, RESULTS_DIR), relative);
    try {
      const isDb = SQLITE_EXTENSIONS.has(path.extname(relative).toLowerCase());
      const hashed = isDb
        ? await publishSqliteBackup(source, target, workJobDir).catch(() => publishCopy(source, target))
        : await publishCopy(source, target);
      outcome.files.push({ path: `${RESULTS_DIR}/${relative}`, ...hashed });
    } catch (error) {
      outcome.problems.push(`${RESULTS_DIR}/${relative}: ${errnoCode(error) ?? (error as Error).message}`);
    }
  }
  const log = await publishLog(workJobDir, inboxJobDir).catch((error: unknown) => {
    outcome.problems.push(`${LOG_FILE}: ${errnoCode(error) ?? (error as Error).message}`);
    return undefined;
  });
  if (log) outcome.files.push(log);
  return outcome;
}

/** Publishes stdout.log as it is now; undefined when the job has not written one. */
export async function publishLog(workJobDir: string, inboxJobDir: string): Promise<FileEntry | undefined> {
  const source = path.join(workJobDir, LOG_FILE);
  try {
    await lstat(source);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  }
  return { path: LOG_FILE, ...(await publishCopy(source, path.join(inboxJobDir, LOG_FILE))) };
}

/** The last lines of a job's working log for its error view; an unreadable log gives none, never a failed end. */
export async function workLogTail(logPath: string, maxLines: number): Promise<string[]> {
  return tailLines(await readLogTail(logPath, { maxLines }).catch(() => ({ kind: "absent" }) as const));
}
