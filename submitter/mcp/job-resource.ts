import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  ErrorCode,
  McpError,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { ServerContext } from "../context.ts";
import { checkJobIdArgument } from "../operations/job-lookup.ts";
import { jobStatus } from "../operations/job-status.ts";

const SCHEME = "job://";
const MAX_LISTED = 50;

function jobIdFromUri(uri: string): string {
  if (!uri.startsWith(SCHEME)) {
    throw new McpError(ErrorCode.InvalidParams, `${uri} is not a job resource; use job://<job_id>`);
  }
  try {
    return checkJobIdArgument(decodeURIComponent(uri.slice(SCHEME.length)));
  } catch (error) {
    throw new McpError(ErrorCode.InvalidParams, (error as Error).message);
  }
}

/**
 * job://{job_id}: the job's status view as JSON. Subscribers get notifications/resources/updated when
 * its status or progress changes (from the catalog's change subscription). Returns a cleanup for the session's end.
 */
export function registerJobResource(server: McpServer, ctx: ServerContext): () => void {
  const subscriptions = new Map<string, () => void>();
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  server.registerResource(
    "job",
    new ResourceTemplate(`${SCHEME}{job_id}`, {
      list: async () => {
        const rows = [...(await ctx.catalog.list()).rows];
        rows.sort((a, b) => b.job_id.localeCompare(a.job_id));
        return {
          resources: rows.slice(0, MAX_LISTED).map((row) => ({
            uri: `${SCHEME}${row.job_id}`,
            name: row.job_id,
            description: `${row.state}${row.project ? ` (${row.project})` : ""}`,
            mimeType: "application/json",
          })),
        };
      },
    }),
    {
      title: "Job state",
      description: "A job's state from its files (the same view as job_status); subscribe to follow it.",
      mimeType: "application/json",
    },
    async (uri) => {
      const view = await jobStatus(ctx, jobIdFromUri(uri.href));
      return {
        contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(view, null, 2) }],
      };
    },
  );
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    const uri = request.params.uri;
    const jobId = jobIdFromUri(uri);
    if (!subscriptions.has(uri)) {
      // A heartbeat alone ("touched") changes nothing a reader of the resource sees.
      const subscribed = ctx.catalog.subscribe(jobId, (event) => {
        if (event.change === "row" || event.change === "removed")
          void server.server.sendResourceUpdated({ uri }).catch(() => undefined);
      });
      subscriptions.set(uri, () => void subscribed.then((unsubscribe) => unsubscribe()));
      await subscribed;
    }
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscriptions.get(request.params.uri)?.();
    subscriptions.delete(request.params.uri);
    return {};
  });
  return () => {
    for (const unsubscribe of subscriptions.values()) unsubscribe();
    subscriptions.clear();
  };
}
