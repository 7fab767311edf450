import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { OperationErrorCode } from "../operations/operation-error.ts";
import { toOperationError } from "../operations/operation-error.ts";

/** Text shown to models stays short: the structured content carries the rest. */
export const MAX_TEXT = 8000;

/** No run of text without a space (an id, a path, a pasted blob) is repeated back longer than this. */
export const ECHO_LIMIT = 200;

const MAX_MESSAGE = 3000;
const MAX_NEXT = 600;

/** What every error result carries as structuredContent, and says as `error (<code>): ...` / `next: ...`. */
export interface ErrorShape {
  code: OperationErrorCode;
  message: string;
  next: string;
}

/** What to do when a refusal did not say. */
const DEFAULT_NEXT: Readonly<Record<OperationErrorCode, string>> = {
  invalid_argument: "fix the arguments and call again",
  not_found: "call list_jobs to see job ids",
  wrong_state: "check job_status, then call again when the job is in the right state",
  conflict: "check job_status and try again",
  forbidden: "ask an operator for a token with the right role",
  unreadable: "check the file named above on the queue host",
  internal: "this is a bug or an environment problem; see the server log",
};

export function boundText(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 40)}\n... (cut; see structuredContent)` : text;
}

/** Long runs without spaces cut to ECHO_LIMIT: an oversized input never comes back whole. */
export function clipEchoes(text: string, limit = ECHO_LIMIT): string {
  return text.replace(new RegExp(`\\S{${limit + 1},}`, "g"), (run) => {
    return `${run.slice(0, limit - 40)}...(${run.length} characters)`;
  });
}

function clip(text: string, max: number): string {
  const clipped = clipEchoes(text);
  return clipped.length > max ? `${clipped.slice(0, max - 12)} ...(cut)` : clipped;
}

export function okResult(
  structured: Record<string, unknown>,
  lines: readonly string[],
  extra: CallToolResult["content"] = [],
): CallToolResult {
  return {
    content: [{ type: "text", text: boundText(lines.join("\n")) }, ...extra],
    structuredContent: structured,
  };
}

/** Any failure in the one error shape; the message and next step are bounded, so `next:` always shows. */
export function errorShape(error: unknown): ErrorShape {
  const failure = toOperationError(error);
  const hint = failure.hint?.replace(/^next:\s*/, "");
  return {
    code: failure.code,
    message: clip(failure.message, MAX_MESSAGE),
    next: clip(hint || DEFAULT_NEXT[failure.code], MAX_NEXT),
  };
}

export function shapeText(shape: ErrorShape): string {
  return `error (${shape.code}): ${shape.message}\nnext: ${shape.next}`;
}

/** Any failure as an isError result that says what was wrong and what to do; never a crash. */
export function errorResult(error: unknown): CallToolResult {
  const shape = errorShape(error);
  return {
    content: [{ type: "text", text: shapeText(shape) }],
    structuredContent: { ...shape },
    isError: true,
  };
}
