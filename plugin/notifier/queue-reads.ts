import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Job, queuePaths } from "../../protocol/index.ts";
import { errnoCode, isJobId, parseArchiveDirName, pathExists, readJob } from "../../protocol/index.ts";

type QueuePaths = ReturnType<typeof queuePaths>;

export type Acknowledgement = "receipt" | "archive" | undefined;

/** The job an archive/ folder holds, when its name is `<job_id>-<UTC stamp>`. */
export function archivedJobId(name: string): string | undefined {
  const id = parseArchiveDirName(name)?.job_id;
  return id !== undefined && isJobId(id) ? id : undefined;
}

export async function archivedIds(queue: QueuePaths): Promise<Set<string>> {
  let names: string[];
  try {
    names = await readdir(queue.archive);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return new Set();
    throw error;
  }
  return new Set(names.map(archivedJobId).filter((id) => id !== undefined));
}

/** How the submitting side took a job's results: a fetch receipt, an archive/ folder, or not yet. */
export async function acknowledgement(
  queue: QueuePaths,
  id: string,
  archived?: ReadonlySet<string>,
): Promise<Acknowledgement> {
  if (await pathExists(join(queue.fetchedDir, `${id}.json`))) return "receipt";
  if ((archived ?? (await archivedIds(queue))).has(id)) return "archive";
  return undefined;
}

/** The job's inbox job.json, or undefined when it is missing or invalid. */
export async function readInboxJob(queue: QueuePaths, id: string): Promise<Job | undefined> {
  try {
    // readJob refuses a linked job folder, a linked or special job.json and bad bytes alike.
    return await readJob(join(queue.inbox, id));
  } catch {
    return undefined;
  }
}
