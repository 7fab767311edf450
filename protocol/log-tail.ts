import type { FileHandle } from "node:fs/promises";
import { withFsRetry } from "./atomic-fs.ts";
import { errnoCode, isProtocolError } from "./errors.ts";
import type { OpenRegularOptions } from "./safe-open.ts";
import { openRegularFile } from "./safe-open.ts";

/** How much of a log's end is read by default: a job's last screenful, whatever the log's size. */
export const LOG_TAIL_BYTES = 64 * 1024;
export const LOG_TAIL_LINES = 20;

export interface LogTailOptions extends OpenRegularOptions {
  /** Read at most this many bytes from the end (default LOG_TAIL_BYTES). */
  maxBytes?: number;
  /** Return at most this many lines, the last ones (default LOG_TAIL_LINES). */
  maxLines?: number;
  /** Leave out lines that are empty or only whitespace (a chat message has no room for them). */
  skipBlank?: boolean;
}

/**
 * The end of a log: absent (no log yet), its last lines, or unsafe: a log in a synced folder may be a
 * link the other side planted (to /etc/passwd) or a FIFO, and is then never opened. Each caller says
 * the unsafe case its own way (a tool error, a line in a chat message, an empty tail).
 */
export type LogTail =
  | { kind: "absent" }
  | { kind: "ok"; lines: string[] }
  | { kind: "unsafe"; problem: string };

/** The byte just after the first line break in `bytes`, or the end when there is none. */
function afterFirstNewline(bytes: Buffer): number {
  const at = bytes.indexOf(0x0a);
  return at === -1 ? bytes.length : at + 1;
}

/**
 * The last lines of a log, reading at most its last `maxBytes`: a log of gigabytes costs one small read.
 * When the window starts inside the log, the byte before it is read too, so the first line is dropped
 * exactly when it is partial (it may start mid-line or mid-character). Lines end at LF or CRLF; a final
 * line break adds no empty line. Other fs errors (EACCES, EIO) are thrown.
 */
export async function readLogTail(path: string, options: LogTailOptions = {}): Promise<LogTail> {
  const maxBytes = Math.max(0, options.maxBytes ?? LOG_TAIL_BYTES);
  const maxLines = Math.max(0, options.maxLines ?? LOG_TAIL_LINES);
  let handle: FileHandle;
  try {
    handle = await withFsRetry(() =>
      openRegularFile(path, options.within === undefined ? {} : { within: options.within }),
    );
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "absent" };
    if (isProtocolError(error, "unsafe_file")) return { kind: "unsafe", problem: error.message };
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - maxBytes);
    // One byte before the window says whether the window starts at a line's start.
    const from = start > 0 ? start - 1 : 0;
    const buffer = Buffer.alloc(size - from);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    let bytes = buffer.subarray(0, bytesRead);
    if (start > 0) bytes = bytes.subarray(afterFirstNewline(bytes));
    const lines = bytes.toString("utf8").split(/\r?\n/);
    if (lines.at(-1) === "") lines.pop();
    const kept = options.skipBlank ? lines.filter((line) => line.trim() !== "") : lines;
    return { kind: "ok", lines: maxLines === 0 ? [] : kept.slice(-maxLines) };
  } finally {
    await handle.close();
  }
}

/** The lines of a tail, [] when the log is absent or unsafe (for callers that only show what there is). */
export function tailLines(tail: LogTail): string[] {
  return tail.kind === "ok" ? tail.lines : [];
}
