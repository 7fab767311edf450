import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Identity } from "../config/roles.ts";
import type { ServerContext } from "../context.ts";
import { buildMcpServer } from "./build-server.ts";

/** Serves one client over stdin/stdout until it disconnects. stdout carries only MCP messages. */
export async function serveStdio(ctx: ServerContext, identity: Identity): Promise<void> {
  const { server, dispose } = buildMcpServer(ctx, identity);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once("end", () => resolve());
  });
  await server.connect(transport);
  await closed;
  dispose();
  await server.close().catch(() => undefined);
}
