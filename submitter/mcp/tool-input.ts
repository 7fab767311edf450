import type { z } from "zod";
import { OperationError } from "../operations/operation-error.ts";
import type { ToolSpec } from "./tool-spec.ts";

const MAX_ISSUES = 5;

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.join(".") : "arguments";
  if (issue.code === "invalid_type" && /received undefined$/.test(issue.message)) {
    return `${path} is missing (expected ${issue.expected})`;
  }
  return `${path}: ${issue.message.replace(/^Invalid input: /, "")}`;
}

/** "study_dir, name, project (required); channel, ... (optional)": what a tool takes, from its schema. */
export function describeArguments(spec: ToolSpec): string {
  const entries = Object.entries(spec.input.shape as Record<string, z.ZodType>);
  if (entries.length === 0) return `${spec.name} takes no arguments`;
  const required = entries.filter(([, schema]) => !schema.safeParse(undefined).success).map(([n]) => n);
  const optional = entries.filter(([, schema]) => schema.safeParse(undefined).success).map(([n]) => n);
  const parts = [
    ...(required.length > 0 ? [`${required.join(", ")} (required)`] : []),
    ...(optional.length > 0 ? [`${optional.join(", ")} (optional)`] : []),
  ];
  return `${spec.name} takes ${parts.join("; ")}`;
}

/**
 * The arguments as the tool's schema reads them, or an invalid_argument refusal that names each
 * wrong field and what the tool takes. zod's messages name limits, never the value given.
 */
export function parseArguments(spec: ToolSpec, args: unknown): Record<string, unknown> {
  const parsed = spec.input.safeParse(args ?? {});
  if (parsed.success) return parsed.data as Record<string, unknown>;
  const issues = parsed.error.issues;
  const listed = issues.slice(0, MAX_ISSUES).map(describeIssue);
  if (issues.length > MAX_ISSUES) listed.push(`and ${issues.length - MAX_ISSUES} more`);
  throw new OperationError(
    "invalid_argument",
    `${spec.name}: ${listed.join("; ")}`,
    `${describeArguments(spec)}; fix the arguments and call again`,
  );
}
