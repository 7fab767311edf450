import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

export const BIN = fileURLToPath(new URL("../bin/atomizer-jobs.js", import.meta.url));
export const REPO = fileURLToPath(new URL("../", import.meta.url));

export interface McpSession {
  client: Client;
  /** The server process (node bin/atomizer-jobs.js mcp), for /proc readings. */
  pid: number;
  /** From spawning the server to the end of the MCP initialize handshake (includes the index scan). */
  startMs: number;
  stderr: () => string;
  /** Calls a tool and fails loudly on a tool error, so a benchmark never times an error path. */
  call: (name: string, args: Record<string, unknown>, timeoutMs?: number) => Promise<CallToolResult>;
  close: () => Promise<void>;
}

export interface McpSessionOptions {
  /**
   * The server's own state folder (its job index), as ATOMIZER_STATE_DIR: each benchmark passes a
   * temporary one, so a warm index and no index are both measurable and nothing is left in $HOME.
   */
  stateDir: string;
}

/** The environment of a server started by a benchmark: this process's, with the benchmark's state folder. */
export function serverEnv(stateDir: string): Record<string, string> {
  return { ...(process.env as Record<string, string>), ATOMIZER_STATE_DIR: stateDir };
}

/** A real MCP client talking to `node bin/atomizer-jobs.js mcp ...` over stdio. */
export async function openMcpSession(
  args: readonly string[],
  options: McpSessionOptions,
): Promise<McpSession> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "mcp", ...args],
    env: serverEnv(options.stateDir),
    stderr: "pipe",
    cwd: REPO,
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: "atomizer-bench", version: "1.0.0" });
  const started = process.hrtime.bigint();
  await client.connect(transport, { timeout: 600_000 });
  const startMs = Number(process.hrtime.bigint() - started) / 1e6;
  const pid = transport.pid;
  if (pid === null) throw new Error(`the MCP server did not start: ${stderr}`);
  return {
    client,
    pid,
    startMs,
    stderr: () => stderr,
    async call(name, callArgs, timeoutMs = 600_000) {
      const result = (await client.callTool({ name, arguments: callArgs }, undefined, {
        timeout: timeoutMs,
        maxTotalTimeout: timeoutMs,
      })) as CallToolResult;
      if (result.isError) {
        const text = result.content.map((part) => (part.type === "text" ? part.text : "")).join("\n");
        throw new Error(`${name} failed: ${text}`);
      }
      return result;
    },
    close: () => client.close(),
  };
}

/**
 * Builds the job index of `queueRoot` in `stateDir` the way a person would before a benchmark that
 * measures a warm index: one `atomizer-jobs list`, which waits for the whole build (a server answers
 * during a long first build instead, and would measure that). Returns how long the build took.
 */
export async function warmIndex(queueRoot: string, stateDir: string): Promise<number> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [BIN, "list", "--queue", queueRoot, "--json"], {
    cwd: REPO,
    env: serverEnv(stateDir),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`atomizer-jobs list (building the index) exited ${code}: ${stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}
