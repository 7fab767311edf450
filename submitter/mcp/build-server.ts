import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { KeyedSerial } from "../../protocol/index.ts";
import { createKeyedSerial, packageVersion } from "../../protocol/index.ts";
import type { Identity } from "../config/roles.ts";
import type { ServerContext } from "../context.ts";
import { registerJobResource } from "./job-resource.ts";
import { toolsForRole } from "./register-tools.ts";
import { JobTaskStore } from "./task-store.ts";
import { installTools } from "./tool-dispatch.ts";

const INSTRUCTIONS =
  "Job queue for optimization studies run on a Windows NX workstation through Syncthing folders. " +
  "submit_job returns at once; follow a job with wait_for_job (returns on a state change; pass the seq you last saw) or job_status; " +
  "fetch_results when it has finished; archive_job when done. Results take 5-30 s or more to sync.";

export interface BuiltServer {
  server: McpServer;
  /** Drops this session's subscriptions. */
  dispose: () => void;
}

export interface BuildOptions {
  /** Shared by every session of one process, so two sessions never advance one task at once. */
  taskLocks?: KeyedSerial;
}

/** One McpServer per caller, holding only the tools that caller's role may use. */
export function buildMcpServer(
  ctx: ServerContext,
  identity: Identity,
  options: BuildOptions = {},
): BuiltServer {
  const specs = toolsForRole(ctx, identity);
  const taskTools = new Map(specs.filter((spec) => spec.task).map((spec) => [spec.name as string, spec]));
  const taskStore =
    taskTools.size > 0
      ? new JobTaskStore({
          dir: ctx.queue.tasksDir,
          agent: identity.agent,
          tools: taskTools,
          locks: options.taskLocks ?? createKeyedSerial(),
        })
      : undefined;
  const server = new McpServer(
    { name: "atomizer-jobs", version: packageVersion() },
    {
      instructions: `${INSTRUCTIONS} You are ${identity.agent} (role ${identity.role}).`,
      capabilities: {
        logging: {},
        ...(taskStore ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } } : {}),
      },
      ...(taskStore ? { taskStore } : {}),
    },
  );
  installTools(server.server, specs, identity, taskStore);
  const dispose = registerJobResource(server, ctx);
  return { server, dispose };
}
