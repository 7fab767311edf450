import { z } from "zod";

export const TOOL_NAMES = [
  "submit_job",
  "job_status",
  "list_jobs",
  "wait_for_job",
  "fetch_results",
  "tail_log",
  "cancel_job",
  "archive_job",
  "runner_status",
] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export const ROLES = ["submitter", "observer", "processor", "admin"] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

const READ: readonly ToolName[] = ["job_status", "list_jobs", "wait_for_job", "tail_log", "runner_status"];

/** What each role may do; tools outside a role are neither listed nor callable for it. */
export const ROLE_TOOLS: Readonly<Record<Role, readonly ToolName[]>> = {
  observer: READ,
  submitter: [...READ, "submit_job", "cancel_job"],
  processor: [...READ, "fetch_results", "archive_job"],
  admin: TOOL_NAMES,
};

export interface Identity {
  /** Fills created_by and requested_by. */
  agent: string;
  role: Role;
}

export const AgentNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    "agent names are letters, digits, '.', '_' and '-' (at most 64)",
  );

/** Over stdio the agent is the Study-Builder unless told otherwise (README of the mcp command). */
export const DEFAULT_STDIO_IDENTITY: Identity = { agent: "study-builder", role: "submitter" };

export function parseRole(value: string, source: string): Role {
  const parsed = RoleSchema.safeParse(value);
  if (!parsed.success)
    throw new Error(`${source}: role ${JSON.stringify(value)} is not one of ${ROLES.join(", ")}`);
  return parsed.data;
}

export function parseAgent(value: string, source: string): string {
  const parsed = AgentNameSchema.safeParse(value);
  if (!parsed.success)
    throw new Error(`${source}: agent ${JSON.stringify(value)}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
