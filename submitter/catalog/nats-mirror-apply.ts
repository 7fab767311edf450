import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { QueuePaths } from "../../protocol/index.ts";
import {
  cancelRequestPath,
  checkJobPath,
  errnoCode,
  fetchReceiptPath,
  isProtocolError,
  JOB_FILE,
  pathExists,
  publishDirectory,
  removeTree,
  withFsRetry,
  writeFileAtomic,
} from "../../protocol/index.ts";
import type { NatsQueue } from "../../protocol/nats-connect.ts";
import type { CarriedFile, FileIndex, RunRecord, SubmissionRecord } from "../../protocol/nats-layout.ts";
import { downloadTree } from "../../protocol/nats-objects.ts";
import { makeStagingDir, stagingName } from "../jobs/staging-dirs.ts";

// How one KV record becomes files in the mirror folder queue, and how its removal does. Each write
// is the folder protocol's own: a submission appears in outbox/ whole (staged, job.json last, one
// rename), a runner's job folder gets its files before its job.json, a small record is one atomic
// file. The folder catalogs reading the mirror cannot tell it from a queue Syncthing filled.

export interface MirrorTarget {
  nats: NatsQueue;
  queue: QueuePaths;
  /** The mirror's staging folder: same filesystem as its outbox/. */
  stagingDir: string;
}

/** The runner-side folder of the mirror a run record was last applied with, for the next one. */
export type AppliedFiles = ReadonlyMap<string, { size: number; sha256: string }>;

/** Mirrors `job.<id>.sub` as outbox/<id>/; one already there is never replaced (it is the same job). */
export async function applySubmission(
  target: MirrorTarget,
  jobId: string,
  record: SubmissionRecord,
): Promise<void> {
  const dir = join(target.queue.outbox, jobId);
  if (await pathExists(dir)) return;
  const staging = await makeStagingDir(target.stagingDir, "submit", "mirror");
  try {
    await downloadTree(target.nats, record.files, staging);
    await writeFileAtomic(join(staging, JOB_FILE), record.job);
    try {
      await publishDirectory(staging, dir);
    } catch (error) {
      // This process's own submit (or another one's) renamed it in first: the same job, keep it.
      if (!(isProtocolError(error) && error.code === "conflict")) throw error;
    }
  } finally {
    await removeTree(staging);
  }
}

/**
 * Mirrors `job.<id>.run` into inbox/<id>/: the files that changed since `applied` (all of them when
 * nothing was applied yet in this process), files the record no longer lists removed, job.json last
 * and only when its text changed. Returns what is now applied.
 */
export async function applyRun(
  target: MirrorTarget,
  jobId: string,
  record: RunRecord,
  applied: AppliedFiles | undefined,
): Promise<AppliedFiles> {
  const dir = join(target.queue.inbox, jobId);
  await mkdir(dir, { recursive: true });
  const changed = applied
    ? record.files.filter((file) => !sameFile(applied.get(file.path), file))
    : record.files;
  if (changed.length > 0) await downloadTree(target.nats, changed, dir);
  if (applied) {
    const listed = new Set(record.files.map((file) => file.path));
    for (const path of applied.keys()) {
      // Paths came from KV: one the job rules refuse is never joined onto the folder.
      if (!listed.has(path) && !checkJobPath(path)) await rm(join(dir, ...path.split("/")), { force: true });
    }
  }
  await writeIfChanged(join(dir, JOB_FILE), record.job);
  return indexMap(record.files);
}

function sameFile(
  a: { size: number; sha256: string } | undefined,
  b: { size: number; sha256: string },
): boolean {
  return a !== undefined && a.size === b.size && a.sha256 === b.sha256;
}

function indexMap(files: FileIndex): AppliedFiles {
  return new Map(files.map((file) => [file.path, { size: file.size, sha256: file.sha256 }]));
}

/** Removes a job folder of the mirror whole: renamed out first, so no reader sees it half deleted. */
export async function removeJobFolder(target: MirrorTarget, dir: string): Promise<void> {
  if (!(await pathExists(dir))) return;
  await mkdir(target.stagingDir, { recursive: true });
  const trash = join(target.stagingDir, stagingName("trash"));
  try {
    await withFsRetry(() => rename(dir, trash));
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return;
    throw error;
  }
  await removeTree(trash);
}

/** The mirror file a carried record (`.cancel`, `.fetch`, `runner.<host>`) lands in. */
export type CarriedTarget =
  | { kind: "cancel"; jobId: string }
  | { kind: "fetch"; jobId: string }
  | { kind: "runner"; host: string };

/** A heartbeat file name must stay one plain name inside inbox/.runners/. */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function carriedPath(queue: QueuePaths, target: CarriedTarget): string | undefined {
  if (target.kind === "cancel") return cancelRequestPath(queue, target.jobId);
  if (target.kind === "fetch") return fetchReceiptPath(queue, target.jobId);
  return HOST_NAME.test(target.host) ? join(queue.runnersDir, `${target.host}.json`) : undefined;
}

export async function applyCarried(path: string, record: CarriedFile): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeIfChanged(path, record.text);
}

export async function removeCarried(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** Rewrites a file only when its text differs: an unchanged rewrite would still wake every watcher. */
async function writeIfChanged(path: string, text: string): Promise<void> {
  const current = await readFile(path, "utf8").catch(() => undefined);
  if (current !== text) await writeFileAtomic(path, text);
}
