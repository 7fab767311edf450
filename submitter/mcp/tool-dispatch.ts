import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type {
  CallToolResult,
  CreateTaskResult,
  ServerNotification,
  ServerRequest,
  Tool,
} from "@modelcontextprotocol/sdk/types.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";
import type { Identity } from "../config/roles.ts";
import { ROLE_TOOLS, TOOL_NAMES } from "../config/roles.ts";
import { OperationError } from "../operations/operation-error.ts";
import type { JobTaskStore } from "./task-store.ts";
import { parseArguments } from "./tool-input.ts";
import { clipEchoes, errorResult, errorShape, shapeText } from "./tool-result.ts";
import { inputJsonSchema, outputJsonSchema } from "./tool-schema.ts";
import type { ToolCall, ToolSpec } from "./tool-spec.ts";

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What tools/list shows of a tool. */
export function listedTool(spec: ToolSpec): Tool {
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    inputSchema: inputJsonSchema(spec.input) as Tool["inputSchema"],
    outputSchema: outputJsonSchema(spec.listedOutput ?? spec.output, spec.unlisted) as Tool["outputSchema"],
    annotations: spec.annotations,
    // "optional", never "required": a client without Tasks (OpenClaw) hides required-task tools.
    ...(spec.task ? { execution: { taskSupport: "optional" as const } } : {}),
  };
}

/** Why a name is no tool of this caller's: another role's tool, or none at all; both list what is. */
function refusal(name: string, identity: Identity): OperationError {
  const allowed = ROLE_TOOLS[identity.role];
  const shown = clipEchoes(JSON.stringify(name), 60);
  if ((TOOL_NAMES as readonly string[]).includes(name)) {
    return new OperationError(
      "forbidden",
      `${identity.agent} has role ${identity.role}, which may not use ${name}; it may use ${allowed.join(", ")}`,
      "ask an operator for a token with the right role",
    );
  }
  return new OperationError(
    "not_found",
    `no tool ${shown}; role ${identity.role} has ${allowed.join(", ")}`,
    "call one of those tools",
  );
}

function toolCall(extra: Extra): ToolCall {
  const token = extra._meta?.progressToken;
  return {
    signal: extra.signal,
    progress: (progress, total, message) => {
      if (token === undefined) return;
      void extra
        .sendNotification({
          method: "notifications/progress",
          params: { progressToken: token, progress, ...(total ? { total } : {}), message },
        })
        .catch(() => undefined);
    },
  };
}

/** A result whose structuredContent does not match the tool's own schema is a bug: said as one. */
function checkedOutput(spec: ToolSpec, result: CallToolResult): CallToolResult {
  if (result.isError) return result;
  const parsed = spec.output.safeParse(result.structuredContent);
  if (parsed.success) return result;
  const issue = parsed.error.issues[0];
  return errorResult(
    new OperationError(
      "internal",
      `${spec.name} produced a result that does not match its outputSchema (${issue?.path.join(".")}: ${issue?.message})`,
    ),
  );
}

/**
 * tools/list and tools/call for one session, on the low-level Server. The SDK's McpServer tool layer
 * is not used: its input-validation and unknown-tool answers are bare protocol messages (no code, no
 * next step), it lists each schema at full zod size, and for taskSupport "optional" it turns a plain
 * call into a task that polls until the job is final. Here every refusal is one error shape, the
 * list is compact, and a plain call stays a bounded call.
 */
export function installTools(
  server: Server,
  specs: readonly ToolSpec[],
  identity: Identity,
  tasks: JobTaskStore | undefined,
): void {
  const byName = new Map(specs.map((spec) => [spec.name as string, spec]));
  // Rendered on the first tools/list only: a session that never lists (most HTTP ones) never pays.
  let listed: Tool[] | undefined;
  server.registerCapabilities({ tools: {} });
  server.setRequestHandler(ListToolsRequestSchema, () => {
    listed ??= specs.map(listedTool);
    return { tools: listed };
  });
  server.setRequestHandler(
    CallToolRequestSchema,
    async (request, extra): Promise<CallToolResult | CreateTaskResult> => {
      const { name, arguments: args, task } = request.params;
      const spec = byName.get(name);
      if (task !== undefined) {
        if (!spec)
          throw new McpError(ErrorCode.InvalidParams, shapeText(errorShape(refusal(name, identity))));
        if (!spec.task || !tasks) {
          throw new McpError(
            ErrorCode.MethodNotFound,
            `${name} does not run as a task; call it without "task"`,
          );
        }
        let parsed: Record<string, unknown>;
        try {
          parsed = parseArguments(spec, args);
        } catch (error) {
          // A task request is answered with a task or a protocol error: the same text, as the error.
          throw new McpError(ErrorCode.InvalidParams, shapeText(errorShape(error)));
        }
        const created = await tasks.createTask(task, extra.requestId, {
          method: "tools/call",
          params: { name, arguments: parsed },
        });
        return { task: created };
      }
      try {
        if (!spec) throw refusal(name, identity);
        const parsed = parseArguments(spec, args);
        return checkedOutput(spec, await spec.run(parsed, toolCall(extra)));
      } catch (error) {
        return errorResult(error);
      }
    },
  );
}
