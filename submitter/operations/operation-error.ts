import { errnoCode, isProtocolError } from "../../protocol/index.ts";

/** Why an operation refused; each maps to one kind of advice for the caller. */
export type OperationErrorCode =
  | "invalid_argument"
  | "not_found"
  | "wrong_state"
  | "conflict"
  | "forbidden"
  | "unreadable"
  | "internal";

/** A refusal that says what was wrong and what to do next; tools turn it into an isError result. */
export class OperationError extends Error {
  readonly code: OperationErrorCode;
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: OperationErrorCode,
    message: string,
    hint?: string,
    details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "OperationError";
    this.code = code;
    this.hint = hint;
    this.details = details;
  }
}

/** Any thrown value as an OperationError, keeping protocol codes and naming fs failures plainly. */
export function toOperationError(error: unknown): OperationError {
  if (error instanceof OperationError) return error;
  if (isProtocolError(error, "unsafe_file")) {
    return new OperationError(
      "unreadable",
      error.message,
      "a link or special file sits where a queue file belongs; nothing was read through it",
      { ...error.details },
    );
  }
  if (isProtocolError(error)) {
    const code: OperationErrorCode =
      error.code === "not_found"
        ? "not_found"
        : error.code === "conflict"
          ? "conflict"
          : error.code === "invalid_transition"
            ? "wrong_state"
            : "invalid_argument";
    return new OperationError(code, error.message, undefined, { ...error.details });
  }
  const errno = errnoCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (errno === "ENOENT") return new OperationError("not_found", message, "check the path and try again");
  if (errno === "EACCES" || errno === "EPERM" || errno === "EISDIR" || errno === "ENOTDIR") {
    return new OperationError("unreadable", message, "check the file's permissions and type");
  }
  return new OperationError(
    "internal",
    message,
    "this is a bug or an environment problem; see the server log",
  );
}

/** One line for people and models: the message, then what to do. */
export function describeOperationError(error: OperationError): string {
  return error.hint ? `${error.message}\nnext: ${error.hint}` : error.message;
}
