import { randomBytes } from "node:crypto";
import { lstat, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { JsonLimits } from "./bounded-json.ts";
import { parseJsonBytes, readBoundedBytes } from "./bounded-json.ts";
import { errnoCode, ProtocolError } from "./errors.ts";
import { MAX_JOB_FILE_BYTES } from "./limits.ts";
import { ATOMIC_TEMP_PREFIX, ATOMIC_TEMP_SUFFIX } from "./queue-layout.ts";
import { openRegularFile } from "./safe-open.ts";
import { writeAll } from "./write-all.ts";

/** Codes Windows returns while Syncthing, an indexer or an antivirus briefly holds a file. */
const TRANSIENT_CODES = new Set(["EPERM", "EBUSY", "EACCES"]);

export interface RetryOptions {
  /** Attempts after the first one. */
  retries?: number;
  /** First delay; doubles each attempt. */
  baseDelayMs?: number;
}

/** Runs `operation`, retrying with exponential backoff while it fails with a transient lock error. */
export async function withFsRetry<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retries = options.retries ?? 6;
  const baseDelayMs = options.baseDelayMs ?? 20;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const code = errnoCode(error);
      if (attempt >= retries || code === undefined || !TRANSIENT_CODES.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, baseDelayMs * 2 ** attempt));
    }
  }
}

/** A temp name beside `target` that .stignore excludes, so Syncthing never ships a partial file. */
export function tempPathFor(target: string): string {
  const suffix = `${process.pid}-${randomBytes(4).toString("hex")}`;
  return join(dirname(target), `${ATOMIC_TEMP_PREFIX}${basename(target)}.${suffix}${ATOMIC_TEMP_SUFFIX}`);
}

/**
 * Writes `data` so readers see either the old file or the new one, never a mix: temp file in the same
 * folder, fsync, rename over the target (retried while Windows holds the target).
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const temp = tempPathFor(target);
  try {
    const handle = await open(temp, "wx");
    try {
      await writeAll(handle, typeof data === "string" ? Buffer.from(data, "utf8") : data, temp);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await withFsRetry(() => rename(temp, target));
  } catch (error) {
    // A failed write (disk full, ...) must not leave its temp file behind either.
    await rm(temp, { force: true });
    throw error;
  }
}

export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`);
}

/** The bytes of a regular file, at most `maxBytes` (links, FIFOs and devices are refused, unopened). */
export async function readRegularFileBytes(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await withFsRetry(() => openRegularFile(path));
  try {
    return await readBoundedBytes(handle, path, maxBytes);
  } finally {
    await handle.close();
  }
}

/**
 * Reads and parses a queue JSON file: a regular file (never a link, FIFO or device), at most
 * MAX_JOB_FILE_BYTES, strict UTF-8, nested at most MAX_JSON_DEPTH deep. Any of those failing, or bad
 * JSON, is a ProtocolError naming the file and the limit; fs errors (ENOENT, ...) pass through.
 */
export async function readJsonFile(path: string, limits: JsonLimits = {}): Promise<unknown> {
  const bytes = await readRegularFileBytes(path, limits.maxBytes ?? MAX_JOB_FILE_BYTES);
  return parseJsonBytes(bytes, path, limits);
}

/** Whether anything (file, folder, link) exists at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errnoCode(error) === "ENOENT" || errnoCode(error) === "ENOTDIR") return false;
    throw error;
  }
}

/**
 * Publishes a fully written folder by renaming it into place. `staging` must be on the same
 * filesystem as `target` and outside any synced folder. Refuses to replace an existing target.
 */
export async function publishDirectory(staging: string, target: string): Promise<void> {
  try {
    // rename() would replace an empty target folder on POSIX; check first so nothing is ever overwritten.
    if (await pathExists(target)) {
      throw new ProtocolError("conflict", `${target} already exists; refusing to replace it`, { target });
    }
    await withFsRetry(() => rename(staging, target));
  } catch (error) {
    const code = errnoCode(error);
    if (code === "EXDEV") {
      throw new ProtocolError(
        "conflict",
        `cannot publish ${staging} to ${target}: they are on different filesystems; put the staging folder on the same drive as the queue`,
        { staging, target },
      );
    }
    if (code === "ENOTEMPTY" || code === "EEXIST") {
      throw new ProtocolError("conflict", `${target} already exists; refusing to replace it`, { target });
    }
    throw error;
  }
}

/** Removes a file or folder tree; Node's own retry covers Windows' EBUSY/EPERM on rmdir. */
export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 6, retryDelay: 50 });
}
