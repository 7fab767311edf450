import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { packageVersion } from "../../protocol/index.ts";
import type { Identity } from "../config/roles.ts";
import type { ServerContext } from "../context.ts";
import { registerJobResource } from "./job-resource.ts";
import { registerTools } from "./register-tools.ts";

const INSTRUCTIONS =
  "Job queue for optimization studies run on a Windows NX workstation through Syncthing folders. " +
  "submit_job returns at once; follow a job with wait_for_job (bounded, pass the seq you last saw) or job_status; " +
  "fetch_results when it has finished; archive_job when done. Results take 5-30 s or more to sync.";

export interface BuiltServer {
  server: McpServer;
  /** Drops this session's subscriptions. */
  dispose: () => void;
}

/** One McpServer per caller, holding only the tools that caller's role may use. */
export function buildMcpServer(ctx: ServerContext, identity: Identity): BuiltServer {
  const server = new McpServer(
    { name: "atomizer-jobs", version: packageVersion() },
    { instructions: `${INSTRUCTIONS} You are ${identity.agent} (role ${identity.role}).` },
  );
  registerTools(server, ctx, identity);
  const dispose = registerJobResource(server, ctx);
  return { server, dispose };
}
