import type { FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { errnoCode, isProtocolError, openRegularFile } from "../../protocol/index.ts";

/**
 * The last `maxLines` non-empty lines of a log, reading at most its last `maxBytes`; [] when absent.
 * The log sits in inbox/, written by the other machine: a link there (to /etc/passwd) or a FIFO is
 * never read, and the message says so instead of quoting another file into a team channel.
 */
export async function readLastLines(path: string, maxBytes: number, maxLines: number): Promise<string[]> {
  let handle: FileHandle;
  try {
    handle = await openRegularFile(path, { within: dirname(dirname(path)) });
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    if (isProtocolError(error, "unsafe_file")) return ["(log not shown: it is a link or special file)"];
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, size - length);
    const lines = buffer.subarray(0, bytesRead).toString("utf8").split(/\r?\n/);
    // The first line may start mid-line (or mid-character) when the file is longer than the window.
    if (size > length) lines.shift();
    return lines.filter((line) => line.trim() !== "").slice(-maxLines);
  } finally {
    await handle.close();
  }
}
