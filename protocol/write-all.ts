import type { FileHandle } from "node:fs/promises";

/**
 * Writes every byte of `data` at the handle's position. write(2) may write fewer bytes than asked
 * (a full disk, a quota, a signal); a single write() call would then lose the rest silently. This
 * loops on the remainder and fails loudly when the filesystem stops taking bytes.
 */
export async function writeAll(handle: FileHandle, data: Uint8Array, path: string): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const { bytesWritten } = await handle.write(data, offset, data.byteLength - offset, null);
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
