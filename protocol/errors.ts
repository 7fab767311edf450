/** Machine-readable reasons a protocol operation refused its input. */
export type ProtocolErrorCode =
  | "invalid_path"
  | "invalid_job_id"
  | "invalid_name"
  | "invalid_job"
  | "invalid_transition"
  | "not_found"
  | "conflict"
  /** A link, FIFO, socket, device or folder where a queue reader expected a regular file. */
  | "unsafe_file";

/** An error whose message says what was wrong and what to do; `code` lets callers branch without parsing. */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ProtocolErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    this.details = details;
  }
}

export function isProtocolError(error: unknown, code?: ProtocolErrorCode): error is ProtocolError {
  return error instanceof ProtocolError && (code === undefined || error.code === code);
}

/** Node's errno code of an fs error, or undefined. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}
