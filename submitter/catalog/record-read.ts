import { join } from "node:path";
import type { CancelRequest, QueuePaths } from "../../protocol/index.ts";
import {
  CancelRequestSchema,
  isTerminal,
  parseArchiveDirName,
  pathExists,
  readJsonFile,
} from "../../protocol/index.ts";
import type { JobRead } from "../jobs/job-files.ts";
import { readJobAt } from "../jobs/job-files.ts";
import type { VerificationCache } from "../jobs/results-check.ts";
import type { Acknowledgement, ArchivedCopy, GetOptions, JobRecord } from "./job-catalog.ts";
import { NOT_CHECKED, verifyResults } from "./results-verification.ts";
import { summarizeRow, unknownRow } from "./row-summary.ts";

/** What reading one job of the folder queue needs from the catalog that asks. */
export interface RecordSource {
  queue: QueuePaths;
  verification: VerificationCache;
  /** The job's archive folder names, newest first, confirmed on disk when an index knows none. */
  archiveNames(jobId: string): Promise<string[]>;
  /** The same as far as known without a listing of archive/ (from memory when an index keeps them). */
  knownArchiveNames(jobId: string): Promise<string[]>;
  /** The job's current change counter, when an index keeps one. */
  change(jobId: string): number | undefined;
}

export function cancelRequestPath(queue: QueuePaths, jobId: string): string {
  return join(queue.cancelDir, `${jobId}.json`);
}

export function fetchReceiptPath(queue: QueuePaths, jobId: string): string {
  return join(queue.fetchedDir, `${jobId}.json`);
}

/** The job's cancel request, if one was written (unreadable requests count as none). */
export async function readCancelRequest(
  queue: QueuePaths,
  jobId: string,
): Promise<CancelRequest | undefined> {
  try {
    const parsed = CancelRequestSchema.safeParse(await readJsonFile(cancelRequestPath(queue, jobId)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function readArchive(source: RecordSource, jobId: string): Promise<ArchivedCopy | undefined> {
  const name = (await source.archiveNames(jobId))[0];
  const parsed = name ? parseArchiveDirName(name) : undefined;
  if (!name || !parsed) return undefined;
  const dir = join(source.queue.archive, name);
  return {
    dir,
    within: source.queue.archive,
    name,
    archived_at: parsed.archived_at,
    read: await readJobAt(dir),
  };
}

/** Only a finished job is acknowledged; a running one is not looked up (no archive listing for it). */
async function acknowledgement(
  source: RecordSource,
  jobId: string,
  finished: boolean,
  archive: ArchivedCopy | undefined,
): Promise<Acknowledgement> {
  if (!finished) return undefined;
  if (await pathExists(fetchReceiptPath(source.queue, jobId))) return "receipt";
  if (archive || (await source.knownArchiveNames(jobId)).length > 0) return "archive";
  return undefined;
}

/**
 * One job's files read once: outbox/<id>, inbox/<id>, its newest archive (only when the outbox entry
 * is gone, PROTOCOL.md section 4), its results against the manifest, cancel request and receipt.
 */
export async function readRecord(
  source: RecordSource,
  jobId: string,
  options: GetOptions = {},
): Promise<JobRecord> {
  const { queue } = source;
  const dirs = { outbox: join(queue.outbox, jobId), inbox: join(queue.inbox, jobId) };
  const [outbox, inbox] = await Promise.all([readJobAt(dirs.outbox), readJobAt(dirs.inbox)]);
  const archive = outbox.kind === "absent" ? await readArchive(source, jobId) : undefined;
  const change = source.change(jobId) ?? 0;
  const archives = new Map<string, JobRead>(archive ? [[archive.name, archive.read]] : []);
  const row =
    outbox.kind === "absent" && inbox.kind === "absent" && !archive
      ? unknownRow(jobId, 0, change)
      : summarizeRow(jobId, { outbox, inbox, archives }, change);
  const inboxJob = inbox.kind === "ok" ? inbox.job : undefined;
  const finished = inboxJob !== undefined && isTerminal(inboxJob.status);
  const [results, cancel, acknowledged] = await Promise.all([
    finished
      ? verifyResults(dirs.inbox, inboxJob.results, source.verification, options.results)
      : Promise.resolve(NOT_CHECKED),
    readCancelRequest(queue, jobId),
    acknowledgement(source, jobId, finished || row.state === "archived", archive),
  ]);
  const archivedJob = archive?.read.kind === "ok" ? archive.read.job : undefined;
  const outboxJob = outbox.kind === "ok" ? outbox.job : undefined;
  return {
    job_id: jobId,
    state: row.state,
    row,
    submitted: outbox,
    runner: inbox,
    archive,
    job:
      row.state === "archived"
        ? (archivedJob ?? inboxJob ?? outboxJob)
        : (inboxJob ?? outboxJob ?? archivedJob),
    folders: {
      submitted: { dir: dirs.outbox, within: queue.outbox },
      runner: { dir: dirs.inbox, within: queue.inbox },
      ...(archive ? { archive: { dir: archive.dir, within: archive.within } } : {}),
    },
    results,
    cancel,
    acknowledged,
  };
}
