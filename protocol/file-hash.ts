import { createHash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { lstat, mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { assertUnchanged, copyInKernel, kernelCopyPossible } from "./kernel-copy.ts";
import type { OpenRegularOptions } from "./safe-open.ts";
import { openRegularFile } from "./safe-open.ts";
import { readChunk, writeAll } from "./write-all.ts";

/** 1 MiB reads: measured as fast as openssl's hashing on this class of machine (docs/benchmarks.md). */
export const STREAM_CHUNK = 1024 * 1024;

export interface HashedFile {
  size: number;
  sha256: string;
}

/**
 * Read buffers reused across the files one caller copies or hashes in turn (a submission's 500
 * small files): each file would otherwise allocate its own pair outside the JavaScript heap, freed
 * only at the next collection, and the server's resident memory grew by megabytes per submission
 * (bench P4). The pair grows to the largest file seen, never past STREAM_CHUNK, so a lane of small
 * files holds small buffers. One copy at a time per ReadBuffers.
 */
export interface ReadBuffers {
  pair(size: number): readonly [Buffer, Buffer];
}

/** The smallest buffer: an empty file (an __init__.py) is read into 64 KiB, not a full chunk. */
const MIN_CHUNK = 64 * 1024;

function chunkFor(size: number): number {
  return Math.min(STREAM_CHUNK, Math.max(MIN_CHUNK, size));
}

export function readBuffers(): ReadBuffers {
  let held: readonly [Buffer, Buffer] | undefined;
  return {
    pair(size) {
      const length = chunkFor(size);
      if (!held || held[0].length < length) held = [Buffer.allocUnsafe(length), Buffer.allocUnsafe(length)];
      return held;
    },
  };
}

export interface HashOptions extends OpenRegularOptions {
  /** Buffers to read into (readBuffers()); without them a pair sized to the file is allocated. */
  buffers?: ReadBuffers;
}

function buffersFor(
  expected: number,
  given: ReadBuffers | undefined,
): { buffers: readonly [Buffer, Buffer]; length: number } {
  const buffers = given ? given.pair(expected) : readBuffers().pair(expected);
  return { buffers, length: buffers[0].length };
}

/** Opened without following a link at the target either: a planted link never redirects a write. */
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0);

/**
 * SHA-256 and size of a file, read in chunks into one buffer: a model file is never held in memory
 * whole, and a small file costs one read instead of a stream's setup and a fresh 1 MiB buffer. Links
 * and special files are refused (openRegularFile), so hashing never hangs on a FIFO.
 */
export async function hashFile(path: string, options: HashOptions = {}): Promise<HashedFile> {
  const handle = await openRegularFile(path, options);
  try {
    const { size: expected } = await handle.stat();
    return await hashHandle(handle, expected, options.buffers);
  } finally {
    await handle.close();
  }
}

/**
 * SHA-256 and size of an open file, read from its start (positioned reads: the handle's own offset
 * is neither used nor moved). Two buffers: the next read runs on the thread pool while this chunk is
 * hashed.
 */
async function hashHandle(handle: FileHandle, expected: number, given?: ReadBuffers): Promise<HashedFile> {
  const hash = createHash("sha256");
  const { buffers, length } = buffersFor(expected, given);
  let size = 0;
  let turn: 0 | 1 = 0;
  let pending = readChunk(handle.fd, buffers[0], length, 0);
  for (;;) {
    const bytesRead = await pending;
    if (bytesRead === 0) break;
    const chunk = buffers[turn].subarray(0, bytesRead);
    turn = turn === 0 ? 1 : 0;
    size += bytesRead;
    pending = readChunk(handle.fd, buffers[turn], length, size);
    hash.update(chunk);
  }
  return { size, sha256: hash.digest("hex") };
}

/**
 * Copies a file and hashes it in the same pass: every byte is read once. The next chunk is read while
 * the current one is written and hashed, so copy speed is bounded by the slower of disk and SHA-256.
 * On Linux a file of 8 MiB or more is instead copied by the kernel from the verified handle while
 * this process hashes it (kernel-copy.ts), and refused if it changed in between.
 *
 * The source is opened as openRegularFile does: never through a link, never a FIFO, and the handle is
 * verified to be the file that was checked; with `within`, it must really lie inside that folder. So
 * a file swapped for a link after a listing checked it is refused, not copied. Every byte is written
 * (short writes are continued, a stalled one fails) and the copy's size is checked at the end.
 */
export async function copyAndHashFile(
  source: string,
  target: string,
  options: HashOptions = {},
): Promise<HashedFile> {
  await mkdir(dirname(target), { recursive: true });
  const input = await openRegularFile(source, options);
  try {
    const before = await input.stat({ bigint: true });
    if (kernelCopyPossible(Number(before.size))) {
      const copied = await copiedByKernel(input, source, target, before, options.buffers);
      if (copied) return copied;
    }
    const output = await open(target, WRITE_FLAGS, 0o666);
    try {
      const hash = createHash("sha256");
      const { buffers, length } = buffersFor(Number(before.size), options.buffers);
      let size = 0;
      let turn: 0 | 1 = 0;
      let pending = readChunk(input.fd, buffers[0], length, 0);
      try {
        for (;;) {
          const bytesRead = await pending;
          if (bytesRead === 0) break;
          const chunk = buffers[turn].subarray(0, bytesRead);
          turn = turn === 0 ? 1 : 0;
          pending = readChunk(input.fd, buffers[turn], length, size + bytesRead);
          const written = writeAll(output.fd, chunk, target);
          hash.update(chunk);
          await written;
          size += bytesRead;
        }
      } finally {
        // A failed write (a full disk) leaves the read ahead running on the bare descriptor, which no
        // FileHandle counts: closing under it would fail that read unhandled, or let it read from
        // whatever file reuses the descriptor's number next.
        await pending.catch(() => undefined);
      }
      const copied = (await output.stat()).size;
      if (copied !== size) {
        throw new Error(
          `${target}: copied ${size} bytes but the file holds ${copied}; the copy is incomplete`,
        );
      }
      return { size, sha256: hash.digest("hex") };
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/**
 * The kernel copies while this process hashes the same open file; both read it, so it must not have
 * changed between them (assertUnchanged), and the copy must be as long as what was hashed. Undefined
 * when the kernel could not copy it (nothing was written): the caller copies the bytes itself.
 */
async function copiedByKernel(
  input: FileHandle,
  source: string,
  target: string,
  before: BigIntStats,
  buffers: ReadBuffers | undefined,
): Promise<HashedFile | undefined> {
  const hashing = hashHandle(input, Number(before.size), buffers);
  // Both end before anything is decided: the caller closes the handle the hash reads from.
  const [copied, hashed] = await Promise.allSettled([copyInKernel(input, target), hashing]);
  if (copied.status === "rejected") throw copied.reason;
  if (hashed.status === "rejected") throw hashed.reason;
  if (!copied.value) return undefined;
  assertUnchanged(source, before, await input.stat({ bigint: true }));
  const written = (await lstat(target)).size;
  if (written !== hashed.value.size) {
    throw new Error(
      `${target}: the copy holds ${written} bytes but ${hashed.value.size} were read; the copy is incomplete`,
    );
  }
  return hashed.value;
}
