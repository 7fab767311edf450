import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

export const CLI = fileURLToPath(new URL("../../../bin/atomizer-jobs.js", import.meta.url));

/** A runner started as a real child process, as the engineer would start it. */
export interface RunnerProcess {
  child: ChildProcess;
  output: string[];
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | NodeJS.Signals | null>;
}

export function startRunner(args: string[], env: NodeJS.ProcessEnv = {}): RunnerProcess {
  const child = spawn(process.execPath, [CLI, "runner", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    if (output.length > 500) output.splice(0, output.length - 500);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal));
  });
  return { child, output, exited };
}

export async function stopRunner(runner: RunnerProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (runner.child.exitCode !== null || runner.child.signalCode !== null) return;
  runner.child.kill(signal);
  const timer = setTimeout(() => runner.child.kill("SIGKILL"), 10_000);
  await runner.exited;
  clearTimeout(timer);
}

/** A real MCP client talking to `atomizer-jobs mcp` over stdio. */
export async function connectMcp(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "mcp", ...args],
    env: { ...(process.env as Record<string, string>), ...env },
    stderr: "pipe",
    ...(cwd ? { cwd } : {}),
  });
  const client = new Client({ name: "atomizer-e2e", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

/** Calls a tool and returns its structured content; a tool error fails the test with the tool's own text. */
export async function callTool<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<T> {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) {
    const text = (result.content as Array<{ type: string; text?: string }>)
      .map((c) => c.text ?? "")
      .join("\n");
    throw new Error(`${name} failed: ${text}`);
  }
  return result.structuredContent as T;
}
