import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
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
  const hash = createHash("sha256");
  const handle = await openRegularFile(path, options);
  try {
    const { size: expected } = await handle.stat();
    // Two buffers: the next read runs on the thread pool while this chunk is hashed.
    const { buffers, length } = buffersFor(expected, options.buffers);
    let size = 0;
    let turn: 0 | 1 = 0;
    let pending = readChunk(handle.fd, buffers[0], length);
    for (;;) {
      const bytesRead = await pending;
      if (bytesRead === 0) break;
      const chunk = buffers[turn].subarray(0, bytesRead);
      turn = turn === 0 ? 1 : 0;
      pending = readChunk(handle.fd, buffers[turn], length);
      hash.update(chunk);
      size += bytesRead;
    }
    return { size, sha256: hash.digest("hex") };
  } finally {
    await handle.close();
  }
}

/**
 * Copies a file and hashes it in the same pass: every byte is read once. The next chunk is read while
 * the current one is written and hashed, so copy speed is bounded by the slower of disk and SHA-256.
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
  const hash = createHash("sha256");
  await mkdir(dirname(target), { recursive: true });
  const input = await openRegularFile(source, options);
  try {
    const output = await open(target, WRITE_FLAGS, 0o666);
    try {
      const { size: expected } = await input.stat();
      const { buffers, length } = buffersFor(expected, options.buffers);
      let size = 0;
      let turn: 0 | 1 = 0;
      let pending = readChunk(input.fd, buffers[0], length);
      try {
        for (;;) {
          const bytesRead = await pending;
          if (bytesRead === 0) break;
          const chunk = buffers[turn].subarray(0, bytesRead);
          turn = turn === 0 ? 1 : 0;
          pending = readChunk(input.fd, buffers[turn], length);
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
