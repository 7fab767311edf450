import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import type { KvEntry } from "@nats-io/kv";
import type { QueuePaths } from "../../protocol/index.ts";
import { isJobId } from "../../protocol/index.ts";
import type { JobPart } from "../../protocol/nats-layout.ts";
import { jobKey, parseJobKey, runnerKey } from "../../protocol/nats-layout.ts";

// Which KV keys the mirror holds as files, and which of them its folders hold now.

/** One KV entry as the downloader keeps it: the newest seen per key is the one applied. */
export interface MirrorEntry {
  key: string;
  revision: number;
  deleted: boolean;
  value: Uint8Array;
  /** When KV stored it (ms since the epoch, the server's clock). */
  createdMs: number;
}

/** The parts of a job the mirror holds as files; the claim and the archived record it does not need. */
const MIRRORED_PARTS: ReadonlySet<JobPart> = new Set(["sub", "run", "cancel", "fetch"]);
export const MIRRORED_PREFIXES = ["job.>", "runner.>"] as const;
export const RUNNER_PREFIX = "runner.";

export function toEntry(entry: KvEntry): MirrorEntry {
  return {
    key: entry.key,
    revision: entry.revision,
    deleted: entry.operation !== "PUT",
    value: entry.value,
    createdMs: entry.created.getTime(),
  };
}

/** A removal of a key KV never held (or purged), ordered before any real revision (1 and up). */
export function removalOf(key: string): MirrorEntry {
  return { key, revision: 0.5, deleted: true, value: new Uint8Array(), createdMs: 0 };
}

/** Which serial queue a key's writes go through (one per job, one per runner), or undefined when not mirrored. */
export function serialKeyOf(key: string): string | undefined {
  const job = parseJobKey(key);
  if (job) return MIRRORED_PARTS.has(job.part) ? job.jobId : undefined;
  return key.startsWith(RUNNER_PREFIX) && key.length > RUNNER_PREFIX.length ? key : undefined;
}

async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** `<name>.json` without its suffix, or undefined for any other name. */
function jsonStem(entry: Dirent): string | undefined {
  return entry.isFile() && entry.name.endsWith(".json") ? entry.name.slice(0, -".json".length) : undefined;
}

/** The keys whose files the mirror holds now (its receipts aside: KV never deletes a fetch record). */
export async function mirroredKeysOnDisk(queue: QueuePaths): Promise<string[]> {
  const keys: string[] = [];
  for (const entry of await entriesOf(queue.outbox)) {
    if (entry.isDirectory() && isJobId(entry.name)) keys.push(jobKey(entry.name, "sub"));
  }
  for (const entry of await entriesOf(queue.inbox)) {
    if (entry.isDirectory() && isJobId(entry.name)) keys.push(jobKey(entry.name, "run"));
  }
  for (const entry of await entriesOf(queue.cancelDir)) {
    const id = jsonStem(entry);
    if (id !== undefined && isJobId(id)) keys.push(jobKey(id, "cancel"));
  }
  for (const entry of await entriesOf(queue.runnersDir)) {
    const host = jsonStem(entry);
    if (host !== undefined && host !== "" && !host.startsWith(".")) keys.push(runnerKey(host));
  }
  return keys;
}
