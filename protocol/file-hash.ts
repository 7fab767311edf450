import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import type { OpenRegularOptions } from "./safe-open.ts";
import { openRegularFile } from "./safe-open.ts";
import { writeAll } from "./write-all.ts";

/** 1 MiB reads: measured as fast as openssl's hashing on this class of machine (docs/benchmarks.md). */
export const STREAM_CHUNK = 1024 * 1024;

export interface HashedFile {
  size: number;
  sha256: string;
}

/** Opened without following a link at the target either: a planted link never redirects a write. */
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0);

/**
 * SHA-256 and size of a file, read in chunks into one buffer: a model file is never held in memory
 * whole, and a small file costs one read instead of a stream's setup and a fresh 1 MiB buffer. Links
 * and special files are refused (openRegularFile), so hashing never hangs on a FIFO.
 */
export async function hashFile(path: string, options: OpenRegularOptions = {}): Promise<HashedFile> {
  const hash = createHash("sha256");
  const handle = await openRegularFile(path, options);
  try {
    const { size: expected } = await handle.stat();
    const length = Math.max(1, Math.min(STREAM_CHUNK, expected || STREAM_CHUNK));
    // Two buffers: the next read runs on the thread pool while this chunk is hashed.
    const buffers = [Buffer.allocUnsafe(length), Buffer.allocUnsafe(length)] as const;
    let size = 0;
    let turn = 0;
    let pending = handle.read(buffers[0], 0, length, null);
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) break;
      turn ^= 1;
      pending = handle.read(turn === 0 ? buffers[0] : buffers[1], 0, length, null);
      hash.update(buffer.subarray(0, bytesRead));
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
  options: OpenRegularOptions = {},
): Promise<HashedFile> {
  const hash = createHash("sha256");
  await mkdir(dirname(target), { recursive: true });
  const input = await openRegularFile(source, options);
  try {
    const output = await open(target, WRITE_FLAGS, 0o666);
    try {
      const { size: expected } = await input.stat();
      const length = Math.max(1, Math.min(STREAM_CHUNK, expected || STREAM_CHUNK));
      const buffers = [Buffer.allocUnsafe(length), Buffer.allocUnsafe(length)] as const;
      let size = 0;
      let turn = 0;
      let pending = input.read(buffers[0], 0, length, null);
      for (;;) {
        const { bytesRead, buffer } = await pending;
        if (bytesRead === 0) break;
        turn ^= 1;
        pending = input.read(turn === 0 ? buffers[0] : buffers[1], 0, length, null);
        const chunk = buffer.subarray(0, bytesRead);
        const written = writeAll(output, chunk, target);
        hash.update(chunk);
        await written;
        size += bytesRead;
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
