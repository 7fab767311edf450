import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { createKeyedSerial } from "../../protocol/index.ts";
import type { TokenTable } from "../config/auth-config.ts";
import type { ServerContext } from "../context.ts";
import { buildMcpServer } from "./build-server.ts";
import { closeAfterRefusal, HttpRequestError, readJsonBody } from "./http-body.ts";
import { hostPolicy, hostProblem } from "./http-guard.ts";
import { listenOn } from "./http-listen.ts";
import { DEFAULT_SESSION_IDLE_S, SessionTable } from "./http-sessions.ts";

export interface HttpOptions {
  host: string;
  port: number;
  tokens: TokenTable;
  /** Host names requests may name besides the loopback names and the bound host. */
  allowedHosts?: readonly string[];
  /** Origins a browser page may call from, besides http(s)://<an allowed host>. */
  allowedOrigins?: readonly string[];
  /** Seconds a session may stay unused before it is closed (default 30 min). */
  sessionIdleS?: number;
}

export interface HttpServerHandle {
  url: string;
  /** Open sessions now (for tests and the bench). */
  sessions: () => number;
  close: () => Promise<void>;
}

const MCP_PATH = "/mcp";

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function rpcError(message: string, code = -32000): unknown {
  return { jsonrpc: "2.0", error: { code, message }, id: null };
}

/**
 * Streamable HTTP with stateful sessions (resource subscriptions need them). Host and Origin are
 * checked against an allowlist first (DNS rebinding), then every request must carry a bearer token
 * from the --config file; each session gets an McpServer built for its caller's role, only that
 * caller may use the session, and a session left unused for sessionIdleS is closed.
 */
export async function serveHttp(ctx: ServerContext, options: HttpOptions): Promise<HttpServerHandle> {
  const sessions = new SessionTable((options.sessionIdleS ?? DEFAULT_SESSION_IDLE_S) * 1000);
  const policy = hostPolicy(options.host, options.allowedHosts ?? [], options.allowedOrigins ?? []);
  const taskLocks = createKeyedSerial();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== MCP_PATH) {
      sendJson(res, 404, { error: `not found; the MCP endpoint is ${MCP_PATH}` });
      return;
    }
    const refused = hostProblem(req, policy);
    if (refused) {
      sendJson(res, 403, rpcError(refused));
      return;
    }
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const identity = match?.[1] ? options.tokens.lookup(match[1]) : undefined;
    if (!identity) {
      sendJson(
        res,
        401,
        rpcError(match ? "invalid bearer token" : "missing bearer token: send Authorization: Bearer <token>"),
        {
          "www-authenticate": match
            ? 'Bearer realm="atomizer-jobs", error="invalid_token"'
            : 'Bearer realm="atomizer-jobs"',
        },
      );
      return;
    }
    const sessionId = req.headers["mcp-session-id"];
    const body = req.method === "POST" ? await readJsonBody(req) : undefined;
    if (typeof sessionId === "string") {
      const session = sessions.get(sessionId);
      if (!session) {
        sendJson(res, 404, rpcError("unknown or expired session; initialize a new one", -32001));
        return;
      }
      // Agent and role: a config may not list one agent under two roles (refused at start), and even
      // so a session never serves a token of another role than the one that opened it.
      if (session.identity.agent !== identity.agent || session.identity.role !== identity.role) {
        sendJson(res, 403, rpcError("this session belongs to another agent"));
        return;
      }
      const done = sessions.use(session);
      res.once("close", done);
      await session.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== "POST" || !isInitializeRequest(body)) {
      sendJson(res, 400, rpcError("no mcp-session-id: start with an initialize request"));
      return;
    }
    const { server, dispose } = buildMcpServer(ctx, identity, { taskLocks });
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      dispose();
      await server.close().catch(() => undefined);
    };
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => sessions.add(id, { identity, transport, close }),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.forget(transport.sessionId);
      void close();
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof HttpRequestError) {
        // An oversized body is never parsed: close the connection once the answer is out and read.
        sendJson(res, error.status, rpcError(message), error.status === 413 ? { connection: "close" } : {});
        if (error.status === 413) res.once("finish", () => closeAfterRefusal(req));
        return;
      }
      sendJson(res, error instanceof SyntaxError ? 400 : 500, rpcError(`request failed: ${message}`));
    });
  });
  const origin = await listenOn(http, options.port, options.host);
  return {
    url: `${origin}${MCP_PATH}`,
    sessions: () => sessions.size,
    close: async () => {
      await sessions.closeAll();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
