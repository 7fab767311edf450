import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { describeOperationError, toOperationError } from "../operations/operation-error.ts";

/** Text shown to models stays short: the structured content carries the rest. */
export const MAX_TEXT = 8000;

export function boundText(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 40)}\n... (cut; see structuredContent)` : text;
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

/** Any failure as an isError result that says what was wrong and what to do; never a crash. */
export function errorResult(error: unknown): CallToolResult {
  const failure = toOperationError(error);
  return {
    content: [
      { type: "text", text: boundText(`error (${failure.code}): ${describeOperationError(failure)}`) },
    ],
    isError: true,
  };
}
