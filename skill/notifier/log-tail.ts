import { open } from "node:fs/promises";
import { errnoCode } from "../../protocol/index.ts";

/** The last `maxLines` non-empty lines of a log, reading at most its last `maxBytes`; [] when absent. */
export async function readLastLines(path: string, maxBytes: number, maxLines: number): Promise<string[]> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return [];
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
