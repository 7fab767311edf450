import type { IncomingMessage } from "node:http";
import { isProtocolError, MAX_JSON_DEPTH, parseJsonBytes } from "../../protocol/index.ts";

/** Largest request body served; a submit_job call with a 50,000-character readme is about 60 KB. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** A request the server refuses before it reaches MCP: the status to answer and what to say. */
export class HttpRequestError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpRequestError";
    this.status = status;
  }
}

function tooLarge(size: number | string): HttpRequestError {
  return new HttpRequestError(
    413,
    `request body of ${size} bytes is over the limit of ${MAX_BODY_BYTES} bytes (4 MiB); send a smaller request (pass large texts as files in study_dir)`,
  );
}

/**
 * Reads a JSON request body within MAX_BODY_BYTES (refused from Content-Length before reading when
 * it says so, else as soon as the stream passes it), as strict UTF-8 nested at most MAX_JSON_DEPTH
 * deep: the same rules as queue files, so a body can neither exhaust memory nor the call stack.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) throw tooLarge(declared);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw tooLarge(`more than ${MAX_BODY_BYTES}`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return parseJsonBytes(Buffer.concat(chunks, size), "request body", {
      maxBytes: MAX_BODY_BYTES,
      maxDepth: MAX_JSON_DEPTH,
    });
  } catch (error) {
    if (isProtocolError(error)) throw new HttpRequestError(400, error.message);
    throw error;
  }
}

/** How long, and how much more, an oversized request is read and dropped after its 413 is sent. */
const LINGER_MS = 2000;
const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * Closes the connection of a refused request once the client had a chance to read the answer. Closing
 * while the client is still sending makes the kernel reset the connection, and a reset can discard
 * the 413 before the client read it (the client then sees only "socket hang up"); so, as web servers'
 * lingering close does, what still arrives is read and dropped for a bounded time and size first.
 */
export function closeAfterRefusal(req: IncomingMessage): void {
  let dropped = 0;
  const done = () => {
    clearTimeout(timer);
    req.destroy();
  };
  const timer = setTimeout(done, LINGER_MS);
  timer.unref();
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) done();
  });
  req.once("end", done);
  req.once("error", done);
  req.resume();
}
