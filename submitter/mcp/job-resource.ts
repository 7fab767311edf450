import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  ErrorCode,
  McpError,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { MAX_JOB_ID_LENGTH } from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import { checkJobIdArgument } from "../operations/job-lookup.ts";
import { jobStatus } from "../operations/job-status.ts";

const SCHEME = "job://";
const MAX_LISTED = 50;
/** Subscriptions one session may hold: every job it could want, not unbounded memory. */
const MAX_SUBSCRIPTIONS = 1000;
const MAX_FOREIGN_URI = 2048;
/** A burst of jobs appearing (a scan, an archive run) is one notifications/resources/list_changed. */
const LIST_CHANGED_DELAY_MS = 500;

function jobIdFromUri(uri: string): string {
  if (uri.length > SCHEME.length + 3 * MAX_JOB_ID_LENGTH) {
    throw new McpError(
      ErrorCode.InvalidParams,
      `a URI of ${uri.length} characters names no job; use job://<job_id>`,
    );
  }
  if (!uri.startsWith(SCHEME)) {
    throw new McpError(ErrorCode.InvalidParams, `${uri} is not a job resource; use job://<job_id>`);
  }
  try {
    return checkJobIdArgument(decodeURIComponent(uri.slice(SCHEME.length)));
  } catch (error) {
    throw new McpError(ErrorCode.InvalidParams, (error as Error).message);
  }
}

/** notifications/resources/list_changed whenever a job appears in or goes from the queue. */
function watchJobList(server: McpServer, ctx: ServerContext): () => void {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // Only a job appearing or going changes the list; the catalog says which rows are new, so no
  // session keeps a set of every job id.
  const subscribed = ctx.catalog.subscribe("*", (event) => {
    if (!(event.change === "removed" || (event.change === "row" && event.added))) return;
    timer ??= setTimeout(() => {
      timer = undefined;
      if (server.isConnected()) void server.server.sendResourceListChanged().catch(() => undefined);
    }, LIST_CHANGED_DELAY_MS);
  });
  return () => {
    if (closed) return;
    closed = true;
    void subscribed.then((unsubscribe) => unsubscribe()).catch(() => undefined);
    if (timer) clearTimeout(timer);
  };
}

/**
 * job://{job_id}: the job's status view as JSON. Subscribers get notifications/resources/updated when
 * its status or progress changes (from the catalog's change subscription), and every session hears
 * notifications/resources/list_changed when jobs appear or go. Returns a cleanup for the session's end.
 */
export function registerJobResource(server: McpServer, ctx: ServerContext): () => void {
  const subscriptions = new Map<string, () => void>();
  const unwatchList = watchJobList(server, ctx);
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  server.registerResource(
    "job",
    new ResourceTemplate(`${SCHEME}{job_id}`, {
      list: async () => {
        const { rows } = await ctx.catalog.query({ limit: MAX_LISTED });
        return {
          resources: rows.map((row) => ({
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
    // Another scheme names no resource here: accepted and kept (resources-subscribe conformance), but
    // nothing ever changes it, so it is never notified.
    if (!subscriptions.has(uri) && subscriptions.size >= MAX_SUBSCRIPTIONS) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `this session already follows ${MAX_SUBSCRIPTIONS} resources; unsubscribe from some first`,
      );
    }
    if (!uri.startsWith(SCHEME)) {
      if (uri.length > MAX_FOREIGN_URI) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `a URI of ${uri.length} characters is too long to follow`,
        );
      }
      subscriptions.set(uri, subscriptions.get(uri) ?? (() => undefined));
      return {};
    }
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
    unwatchList();
    for (const unsubscribe of subscriptions.values()) unsubscribe();
    subscriptions.clear();
  };
}
