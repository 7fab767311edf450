import type { Identity } from "../config/roles.ts";
import { ROLE_TOOLS, TOOL_NAMES } from "../config/roles.ts";
import type { ServerContext } from "../context.ts";
import { readTools } from "./read-tools.ts";
import type { ToolSpec } from "./tool-spec.ts";
import { writeTools } from "./write-tools.ts";

/** The tools `identity.role` may use, and only those: the others do not exist for it. */
export function toolsForRole(ctx: ServerContext, identity: Identity): ToolSpec[] {
  const allowed = new Set(ROLE_TOOLS[identity.role]);
  const all = [...readTools(ctx), ...writeTools(ctx, identity)];
  return all
    .filter((spec) => allowed.has(spec.name))
    .sort((a, b) => TOOL_NAMES.indexOf(a.name) - TOOL_NAMES.indexOf(b.name));
}
