import { read, write } from "node:fs";
import type { FileHandle } from "node:fs/promises";

/**
 * One write at the file's position, through the callback API when given a descriptor: a copy loop of
 * a 1 GiB file makes a thousand of these, and FileHandle.write allocates about twice the short-lived
 * objects per call (bench P4 measures the server's memory during such a copy).
 */
function writeSome(
  target: FileHandle | number,
  data: Uint8Array,
  offset: number,
  length: number,
): Promise<number> {
  if (typeof target !== "number")
    return target.write(data, offset, length, null).then((done) => done.bytesWritten);
  return new Promise((resolve, reject) => {
    write(target, data, offset, length, null, (error, written) => (error ? reject(error) : resolve(written)));
  });
}

/** One read into `buffer` at `position` (the callback API, as writeSome): the bytes read, 0 at the end. */
export function readChunk(fd: number, buffer: Uint8Array, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buffer, 0, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)));
  });
}

/**
 * Writes every byte of `data` at the handle's (or descriptor's) position. write(2) may write fewer
 * bytes than asked (a full disk, a quota, a signal); a single write() call would then lose the rest
 * silently. This loops on the remainder and fails loudly when the filesystem stops taking bytes.
 */
export async function writeAll(target: FileHandle | number, data: Uint8Array, path: string): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const bytesWritten = await writeSome(target, data, offset, data.byteLength - offset);
    if (bytesWritten <= 0) {
      const error = new Error(
        `${path}: the filesystem took ${offset} of ${data.byteLength} bytes and then no more (disk full?); free space and try again`,
      ) as NodeJS.ErrnoException;
      error.code = "ENOSPC";
      throw error;
    }
    offset += bytesWritten;
  }
}
