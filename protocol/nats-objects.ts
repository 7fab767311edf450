// A job's files through the NATS Object Store: upload reports the sha256 of exactly the bytes it sent
// (the index then describes the object, even if the file changes during the upload), download goes
// through our bounded chunk reader and keeps a file only when its size and sha256 match the index.
import type { BigIntStats } from "node:fs";
import { lstat, mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { tempPathFor, withFsRetry } from "./atomic-fs.ts";
import { errnoCode, ProtocolError } from "./errors.ts";
import { hashFile } from "./file-hash.ts";
import { listJobTree } from "./manifest.ts";
import { digestToHex, downloadObject } from "./nats-chunk-reader.ts";
import type { NatsQueue } from "./nats-connect.ts";
import type { FileIndex, FileSide, IndexedFile } from "./nats-layout.ts";
import { objectName } from "./nats-layout.ts";
import { checkJobPath } from "./path-rules.ts";
import { describeFileKind, openRegularFile } from "./safe-open.ts";
import { readChunk } from "./write-all.ts";

export { digestToHex, downloadObject } from "./nats-chunk-reader.ts";

/**
 * Bytes read from the file at a time. Each read is a fresh buffer: the client's put keeps a reference
 * to what it was given until the chunk is published, so a reused buffer would be overwritten under it.
 */
const UPLOAD_READ = 256 * 1024;

/**
 * Streams `localPath` (a regular file, never a link) into `object`; the size and sha256 (hex) of the
 * bytes sent. The sha256 is the client's own digest of the chunks it published, computed as it sends
 * them with node:crypto (openNats selects that backend): a second hash here cost about 1.2 s of CPU
 * per GiB on the event loop and made the upload 1.22-1.30x slower than a plain put (bench P10).
 */
export async function uploadFile(
  q: NatsQueue,
  localPath: string,
  object: string,
): Promise<{ size: number; sha256: string }> {
  const handle = await openRegularFile(localPath);
  let size = 0;
  try {
    const source = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const buffer = Buffer.allocUnsafe(UPLOAD_READ);
          const read = await readChunk(handle.fd, buffer, UPLOAD_READ, size);
          if (read === 0) {
            controller.close();
            return;
          }
          size += read;
          controller.enqueue(buffer.subarray(0, read));
        },
      },
      // One read ahead: the next read runs while put waits for the server's ack of the last chunk;
      // memory holds about two reads whatever the file's size.
      { highWaterMark: 1 },
    );
    const info = await q.objects.put({ name: object }, source);
    const sha256 = digestToHex(info.digest);
    if (info.size !== size || sha256 === undefined) {
      await q.objects.delete(object).catch(() => undefined);
      throw new ProtocolError(
        "conflict",
        `uploading ${localPath} as ${object}: the object store recorded ${info.size} bytes with digest ${JSON.stringify(info.digest)}, but ${size} bytes were read; the object was deleted, upload again`,
        { object, localPath },
      );
    }
    return { size: info.size, sha256 };
  } finally {
    await handle.close();
  }
}

function sameContent(
  a: { size: number; sha256: string },
  b: { size: number; sha256: string } | undefined,
): boolean {
  return b !== undefined && a.size === b.size && a.sha256 === b.sha256;
}

/** What a caller keeps between uploads of one folder: each file's identity when it was last indexed. */
export type UploadStats = Map<string, { size: bigint; mtimeNs: bigint; ino: bigint }>;

export interface UploadTreeOptions {
  /** An id of this upload, put into every object name: two submitters racing for one job id never write the same objects. */
  upload?: string;
  /** Files unchanged since the last call (same size, mtime and inode) reuse their entry unhashed. */
  stats?: UploadStats;
}

/**
 * Uploads every regular file under `dir` as `<jobId>/<side>/[<upload>/]<path>` and returns their
 * index, sorted by path. The root job.json, temp files (.atomizer-*.tmp, Syncthing's), conflict copies
 * and links are left out. A file whose size and sha256 equal its `previous` entry is not sent again.
 */
export async function uploadTree(
  q: NatsQueue,
  dir: string,
  jobId: string,
  side: FileSide,
  previous: FileIndex = [],
  options: UploadTreeOptions = {},
): Promise<FileIndex> {
  const before = new Map(previous.map((entry) => [entry.path, entry]));
  const index: FileIndex = [];
  for (const path of (await listJobTree(dir)).files) {
    const local = join(dir, ...path.split("/"));
    const object = objectName(jobId, side, path, options.upload);
    const old = before.get(path);
    const stats = await lstat(local, { bigint: true });
    const identity = { size: stats.size, mtimeNs: stats.mtimeNs, ino: stats.ino };
    if (old !== undefined && old.object === object && stats.size === BigInt(old.size)) {
      const last = options.stats?.get(path);
      const untouched =
        last !== undefined &&
        last.size === identity.size &&
        last.mtimeNs === identity.mtimeNs &&
        last.ino === identity.ino;
      // Only a file of the same size can be unchanged: hash it to know, unless it was not touched since.
      if (untouched || sameContent(await hashFile(local), old)) {
        options.stats?.set(path, identity);
        index.push(old);
        continue;
      }
    }
    const sent = await uploadFile(q, local, object);
    // The identity from before the upload: a file changed during it is hashed again next time.
    options.stats?.set(path, identity);
    index.push({ path, size: sent.size, sha256: sent.sha256, object });
  }
  return index.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function lstatOrUndefined(path: string): Promise<BigIntStats | undefined> {
  try {
    return await lstat(path, { bigint: true });
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

/** Creates the folders of `path` below `dir`, refusing any that exists as a link or a file. */
async function realFoldersTo(dir: string, path: string): Promise<void> {
  const parts = path.split("/").slice(0, -1);
  let at = dir;
  for (const part of parts) {
    at = join(at, part);
    const stats = await lstatOrUndefined(at);
    if (stats === undefined) await mkdir(at);
    else if (!stats.isDirectory()) {
      throw new ProtocolError(
        "unsafe_file",
        `${at} is ${describeFileKind(stats)}, where the file index needs a folder for ${path}; files are never written through links: remove it and retry`,
        { path: at },
      );
    }
  }
}

/** Whether `target` already holds the entry's bytes (a regular file of that size and sha256). */
async function alreadyThere(target: string, entry: IndexedFile): Promise<boolean> {
  const stats = await lstatOrUndefined(target);
  if (stats === undefined || !stats.isFile() || stats.size !== BigInt(entry.size)) return false;
  return sameContent(await hashFile(target), entry);
}

/**
 * Brings `dir` to the index: every file missing there, or different in size or sha256, is downloaded
 * to a temp name beside it and renamed into place (a link standing there is replaced, never
 * followed). Files in `dir` the index does not name are left alone.
 */
export async function downloadTree(q: NatsQueue, index: FileIndex, dir: string): Promise<void> {
  for (const entry of index) {
    const violation = checkJobPath(entry.path);
    if (violation !== undefined) {
      throw new ProtocolError(
        "invalid_path",
        `file index entry ${JSON.stringify(entry.path)}: ${violation.message}`,
        { path: entry.path },
      );
    }
    await realFoldersTo(dir, entry.path);
    const target = join(dir, ...entry.path.split("/"));
    if (await alreadyThere(target, entry)) continue;
    const temp = tempPathFor(target);
    try {
      await downloadObject(q, entry.object, temp, entry);
      await withFsRetry(() => rename(temp, target));
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
}

/**
 * Deletes every object under `<jobId>/<side>/`, or only one upload's (`<jobId>/<side>/<upload>/`, see
 * uploadTree); none there is not an error.
 */
export async function deleteObjects(
  q: NatsQueue,
  jobId: string,
  side: FileSide,
  upload?: string,
): Promise<void> {
  const prefix = objectName(jobId, side, "", upload);
  // list() reads every object's info in the bucket: names are base64 in the meta subjects, so a
  // prefix cannot be filtered on the server.
  for (const info of await q.objects.list()) {
    if (info.name.startsWith(prefix) && !info.deleted) await q.objects.delete(info.name);
  }
}
