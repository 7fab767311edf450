import type { CallToolResult, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { ToolName } from "../config/roles.ts";

/** What a tool's run gets besides its arguments. */
export interface ToolCall {
  signal: AbortSignal;
  /** Sends notifications/progress when the client gave a progressToken; else does nothing. */
  progress: (progress: number, total: number | undefined, message: string) => void;
}

/**
 * How a tool runs as an MCP task (spec 2025-11-25): the task works until `check` says the job is
 * where the caller wanted it, then ends with `finish`'s result (the tool's own result shape).
 * Both are called afresh on every look (tasks/get, tasks/result), from the queue's files, so a task
 * needs no process of its own and goes on across server restarts.
 */
export interface TaskSupport<Args> {
  check: (args: Args) => Promise<{ done: boolean; message: string }>;
  finish: (args: Args, since: Date) => Promise<CallToolResult>;
}

/** One tool: what tools/list shows and what tools/call runs. */
export interface ToolSpec {
  name: ToolName;
  title: string;
  description: string;
  input: z.ZodObject;
  output: z.ZodObject;
  /** What tools/list shows instead of `output`: a looser schema every real result also satisfies. */
  listedOutput?: z.ZodObject;
  /**
   * Fields (dotted paths, "job.queued_at") tools/list leaves out: record-keeping an agent does not act
   * on (timestamps, who, paths, sizes). They stay in the result, which may carry more than is listed.
   */
  unlisted?: readonly string[];
  annotations: ToolAnnotations;
  /** Present when a client may run the tool as a task (taskSupport "optional", never "required"). */
  task?: TaskSupport<Record<string, unknown>>;
  /** Arguments already parsed by `input`; throws an OperationError (or anything) to refuse. */
  run: (args: Record<string, unknown>, call: ToolCall) => Promise<CallToolResult>;
}

/** A ToolSpec whose run and task see the arguments typed by their own input schema. */
export function defineTool<Input extends z.ZodObject>(spec: {
  name: ToolName;
  title: string;
  description: string;
  input: Input;
  output: z.ZodObject;
  listedOutput?: z.ZodObject;
  unlisted?: readonly string[];
  annotations: ToolAnnotations;
  task?: TaskSupport<z.infer<Input>>;
  run: (args: z.infer<Input>, call: ToolCall) => Promise<CallToolResult>;
}): ToolSpec {
  return spec as unknown as ToolSpec;
}

export const READ_ONLY: ToolAnnotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};

export function writes(hints: { destructiveHint: boolean; idempotentHint: boolean }): ToolAnnotations {
  return { readOnlyHint: false, ...hints, openWorldHint: false };
}
