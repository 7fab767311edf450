import type { FileHandle } from "node:fs/promises";
import { stripVTControlCharacters } from "node:util";
import type { OpenRegularOptions } from "../../protocol/index.ts";
import { errnoCode, openRegularFile } from "../../protocol/index.ts";

export interface LogRange {
  /** Decoded text; cut at a whole UTF-8 character so the next read resumes cleanly. */
  text: string;
  offset: number;
  next_offset: number;
  size: number;
  eof: boolean;
  /** The file is smaller than the offset asked for: it was replaced, so reading restarted at 0. */
  restarted: boolean;
}

function sequenceLength(lead: number): number {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

/**
 * Where a trailing escape sequence cut by the read window starts ("\x1b[3" of "\x1b[31m"): it is
 * held back for the next read, so a colour code never reaches an agent in two unstrippable halves.
 */
function partialEscapeAt(text: string): number | undefined {
  const at = text.lastIndexOf("\u001b");
  if (at < 0 || text.length - at > 32) return undefined;
  const rest = text.slice(at + 1);
  if (rest === "") return at;
  return /^\[[0-?]*[ -/]*$/.test(rest) ? at : undefined;
}

/** Log text as agents get it: terminal colour and cursor codes (Optuna's logger) cost tokens and say nothing. */
export function plainLogText(text: string): string {
  return stripVTControlCharacters(text);
}

/** Length of `bytes` without a trailing, incomplete UTF-8 sequence. */
export function completeUtf8Length(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const index = bytes.length - back;
    const byte = bytes[index] ?? 0;
    if ((byte & 0xc0) !== 0x80) {
      return index + sequenceLength(byte) > bytes.length ? index : bytes.length;
    }
  }
  return bytes.length;
}

/** A log in a synced folder may be a link the other side planted (to /etc/passwd): never followed. */
async function openIfPresent(path: string, options: OpenRegularOptions): Promise<FileHandle | undefined> {
  try {
    return await openRegularFile(path, options);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw error;
  }
}

/** Reads up to `maxBytes` of a log from `offset`; undefined when the log does not exist (yet). */
export async function readLogRange(
  path: string,
  offset: number,
  maxBytes: number,
  options: OpenRegularOptions = {},
): Promise<LogRange | undefined> {
  const handle = await openIfPresent(path, options);
  if (!handle) return undefined;
  try {
    const { size } = await handle.stat();
    const restarted = offset > size;
    const start = restarted ? 0 : offset;
    const length = Math.min(maxBytes, size - start);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = length > 0 ? await handle.read(buffer, 0, length, start) : { bytesRead: 0 };
    let usable = bytesRead === size - start ? bytesRead : completeUtf8Length(buffer.subarray(0, bytesRead));
    let text = buffer.subarray(0, usable).toString("utf8");
    const partial = usable < size - start ? partialEscapeAt(text) : undefined;
    if (partial !== undefined) {
      usable -= Buffer.byteLength(text.slice(partial));
      text = text.slice(0, partial);
    }
    const next = start + usable;
    return {
      text: plainLogText(text),
      offset: start,
      next_offset: next,
      size,
      eof: next >= size,
      restarted,
    };
  } finally {
    await handle.close();
  }
}
