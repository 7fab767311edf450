import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { CatalogEvent, JobCatalog } from "../catalog/job-catalog.ts";
import type { TokenTable } from "../config/auth-config.ts";
import type { RunnerView } from "../jobs/runners.ts";
import { hostPolicy, hostProblem } from "../mcp/http-guard.ts";
import { listenOn } from "../mcp/http-listen.ts";
import { DASHBOARD_SCRIPT } from "./dashboard-client.ts";
import { dashboardPage } from "./dashboard-page.ts";
import { jobRowHtml, rowId, runnersHtml } from "./dashboard-view.ts";

export interface DashboardOptions {
  queueRoot: string;
  catalog: JobCatalog;
  host: string;
  port: number;
  /** Bearer tokens (the MCP server's --config); required by the command when not bound to loopback. */
  tokens?: TokenTable;
  allowedHosts?: readonly string[];
  allowedOrigins?: readonly string[];
  /** How often runner heartbeats are re-read: their liveness changes with time, not with files. */
  runnersEveryMs?: number;
  now?: () => Date;
}

export interface DashboardHandle {
  url: string;
  /** Open event streams (for tests). */
  streams: () => number;
  close: () => Promise<void>;
}

const COOKIE = "atomizer_dashboard";
const HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'",
};

function send(res: ServerResponse, status: number, type: string, body: string, extra = {}): void {
  res.writeHead(status, { ...HEADERS, "content-type": type, ...extra });
  res.end(body);
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === COOKIE) return decodeURIComponent(value.join("="));
  }
  return undefined;
}

/** Jobs in the first HTML, newest first; the live feed adds any that change later. */
const DASHBOARD_ROWS = 200;

/**
 * A read-only page of the queue: the jobs rendered into the first HTML, then live rows over
 * server-sent events from the catalog's change feed (the one wait_for_job follows). Host and Origin
 * are checked like the HTTP MCP server's; with tokens, a request needs a bearer token or the cookie
 * that `/?token=...` sets (a browser cannot send a header to an EventSource).
 */
export async function serveDashboard(options: DashboardOptions): Promise<DashboardHandle> {
  const now = options.now ?? (() => new Date());
  const policy = hostPolicy(options.host, options.allowedHosts ?? [], options.allowedOrigins ?? []);
  const streams = new Set<ServerResponse>();
  let runners: RunnerView[] = await options.catalog.runners(now());
  let runnersShown = runnersHtml(runners, now());
  const broadcast = (event: string, data: unknown) => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of streams) res.write(frame);
  };
  const onChange = (event: CatalogEvent) => {
    // A heartbeat rewrites job.json without changing the row: nothing on the page moves.
    if (event.change === "touched" || event.change === "fetched") return;
    const id = rowId(event.job_id);
    if (event.change === "removed" || event.row.state === "unknown") broadcast("job", { id, removed: true });
    else broadcast("job", { id, html: jobRowHtml(event.row, runners, now()) });
  };
  const unsubscribe = await options.catalog.subscribe("*", onChange);
  const refreshRunners = async () => {
    runners = await options.catalog.runners(now());
    const html = runnersHtml(runners, now());
    // Ages alone change every poll; the page's script keeps those current itself.
    if (
      html.replace(/data-time="[^"]*">[^<]*</g, "") !== runnersShown.replace(/data-time="[^"]*">[^<]*</g, "")
    ) {
      broadcast("runners", { html });
    }
    runnersShown = html;
  };
  const timer = setInterval(
    () => void refreshRunners().catch(() => undefined),
    options.runnersEveryMs ?? 5000,
  );
  const keepAlive = setInterval(() => {
    for (const res of streams) res.write(": keep-alive\n\n");
  }, 15_000);

  const authorized = (req: IncomingMessage, url: URL): "ok" | "set-cookie" | "no" => {
    if (!options.tokens) return "ok";
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
    if (bearer && options.tokens.lookup(bearer)) return "ok";
    const query = url.searchParams.get("token");
    if (query && options.tokens.lookup(query)) return "set-cookie";
    const cookie = cookieToken(req);
    return cookie && options.tokens.lookup(cookie) ? "ok" : "no";
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const refused = hostProblem(req, policy);
    if (refused) return send(res, 403, "text/plain; charset=utf-8", refused);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return send(res, 405, "text/plain; charset=utf-8", "read-only: GET only", { allow: "GET, HEAD" });
    }
    const auth = authorized(req, url);
    if (auth === "no") {
      return send(
        res,
        401,
        "text/plain; charset=utf-8",
        "open /?token=<token> once, or send Authorization: Bearer <token>",
      );
    }
    if (auth === "set-cookie") {
      const token = url.searchParams.get("token") ?? "";
      // The token leaves the address bar at once; the cookie never reaches scripts or other sites.
      return send(res, 303, "text/plain; charset=utf-8", "", {
        location: "/",
        "set-cookie": `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
      });
    }
    if (url.pathname === "/dashboard.js")
      return send(res, 200, "text/javascript; charset=utf-8", DASHBOARD_SCRIPT);
    if (url.pathname === "/events") {
      res.writeHead(200, { ...HEADERS, "content-type": "text/event-stream", connection: "keep-alive" });
      res.write("retry: 2000\n\n");
      streams.add(res);
      req.once("close", () => streams.delete(res));
      return;
    }
    if (url.pathname !== "/") return send(res, 404, "text/plain; charset=utf-8", "not found");
    // The newest jobs: a page of the whole history would be megabytes at 100,000 jobs.
    const listing = await options.catalog.query({ limit: DASHBOARD_ROWS });
    send(
      res,
      200,
      "text/html; charset=utf-8",
      dashboardPage(options.queueRoot, listing.rows, runners, now()),
    );
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        send(res, 500, "text/plain; charset=utf-8", `failed: ${(error as Error).message}`);
    });
  });
  const origin = await listenOn(http, options.port, options.host);
  return {
    url: `${origin}/`,
    streams: () => streams.size,
    close: async () => {
      clearInterval(timer);
      clearInterval(keepAlive);
      unsubscribe();
      for (const res of streams) res.end();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
