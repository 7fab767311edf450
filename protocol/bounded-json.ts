import { isUtf8 } from "node:buffer";
import type { FileHandle } from "node:fs/promises";
import { ProtocolError } from "./errors.ts";
import { MAX_JOB_FILE_BYTES, MAX_JSON_DEPTH } from "./limits.ts";

// Queue JSON files are parsed from bytes, never from a lossy string: Node's "utf8" decoding silently
// turns invalid bytes into U+FFFD, so a damaged job.json would be read (and rewritten) with different
// text than was sent. Size and nesting are bounded before JSON.parse, so a huge file is never held
// whole and a 10,000-deep value never reaches a recursive reader (JSON.stringify overflows the stack).

export interface JsonLimits {
  maxBytes?: number;
  maxDepth?: number;
}

function invalid(source: string, message: string, details: Record<string, unknown> = {}): ProtocolError {
  return new ProtocolError("invalid_job", `${source} ${message}`, { source, ...details });
}

export function tooLarge(source: string, size: number, maxBytes: number): ProtocolError {
  return invalid(
    source,
    `is ${size} bytes; a queue JSON file may be at most ${maxBytes} bytes (MAX_JOB_FILE_BYTES, docs/PROTOCOL.md section 11): list fewer files or drop bulky fields`,
    { size, max_bytes: maxBytes },
  );
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i] ?? 0;
    const length =
      lead < 0x80
        ? 1
        : lead >= 0xc2 && lead < 0xe0
          ? 2
          : lead >= 0xe0 && lead < 0xf0
            ? 3
            : lead >= 0xf0 && lead < 0xf5
              ? 4
              : 0;
    if (length === 0 || i + length > bytes.length) return i;
    if (!isUtf8(bytes.subarray(i, i + length))) return i;
    i += length;
  }
  return -1;
}

/** Decodes UTF-8 strictly (a leading BOM is dropped); invalid bytes are refused, never replaced. */
export function decodeUtf8Strict(bytes: Uint8Array, source: string): string {
  if (!isUtf8(bytes)) {
    const offset = firstInvalidUtf8(bytes);
    throw invalid(
      source,
      `is not valid UTF-8 (first bad byte at offset ${offset}); write it as UTF-8 text and send it again`,
      { offset },
    );
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Refuses JSON text whose objects and arrays nest deeper than `maxDepth` (strings are skipped). */
export function checkJsonDepth(text: string, source: string, maxDepth = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) {
        throw invalid(
          source,
          `nests objects or arrays more than ${maxDepth} deep (at character ${i}; MAX_JSON_DEPTH, docs/PROTOCOL.md section 11): flatten the deeply nested field`,
          { max_depth: maxDepth },
        );
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

/** Parses JSON text within the depth bound; a syntax error names the source. */
export function parseJsonText(text: string, source: string, limits: JsonLimits = {}): unknown {
  checkJsonDepth(text, source, limits.maxDepth);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalid(source, `is not valid JSON: ${(error as Error).message}`);
  }
}

/** Size, strict UTF-8, depth, then JSON.parse: the one way queue JSON bytes become a value. */
export function parseJsonBytes(bytes: Uint8Array, source: string, limits: JsonLimits = {}): unknown {
  const maxBytes = limits.maxBytes ?? MAX_JOB_FILE_BYTES;
  if (bytes.byteLength > maxBytes) throw tooLarge(source, bytes.byteLength, maxBytes);
  return parseJsonText(decodeUtf8Strict(bytes, source), source, limits);
}

/**
 * Reads an open file whole, refusing it (before reading, from fstat) when it is larger than
 * `maxBytes`, and again if it grows past that while being read.
 */
export async function readBoundedBytes(
  handle: FileHandle,
  source: string,
  maxBytes: number,
): Promise<Buffer> {
  const { size } = await handle.stat();
  if (size > maxBytes) throw tooLarge(source, size, maxBytes);
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buffer = Buffer.allocUnsafe(Math.min(Math.max(size - total, 64 * 1024), maxBytes + 1 - total));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
    if (bytesRead === 0) break;
    total += bytesRead;
    if (total > maxBytes) throw tooLarge(source, total, maxBytes);
    chunks.push(buffer.subarray(0, bytesRead));
  }
  return Buffer.concat(chunks, total);
}
