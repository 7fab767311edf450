// A real nats-server with JetStream on loopback for tests: a free port, a JetStream store in a temp
// dir, and restart on the same port and store (what a runner sees when the server goes away and back).
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { requireUnderCi } from "./python.ts";

/** nats-server on PATH, else the Debian package's /usr/sbin, else undefined. */
export function findNatsServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/bin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, process.platform === "win32" ? "nats-server.exe" : "nats-server");
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** For `describe.runIf(natsServerPresent())`: skips with a message outside CI, throws under CI=true. */
export function natsServerPresent(): boolean {
  return requireUnderCi(
    findNatsServer() !== undefined,
    "nats-server (apt install nats-server, or put it on PATH)",
  );
}

export interface RunningNats {
  url: string;
  port: number;
  storeDir: string;
  /** SIGTERM and wait for exit; removes the store dir unless the caller gave it. */
  stop(): Promise<void>;
  /** Signals the server without waiting (a crash when SIGKILL). */
  kill(signal?: NodeJS.Signals): void;
  /** Stops it if it runs, then starts it again on the same port and store. */
  restart(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export interface NatsServerOptions {
  port?: number;
  storeDir?: string;
  /** More nats-server arguments, e.g. ["--auth", token] for the credential tests. */
  args?: string[];
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<RunningNats> {
  const binary = findNatsServer();
  if (binary === undefined)
    throw new Error("nats-server is not installed: apt install nats-server, or put it on PATH");
  const port = options.port ?? (await freePort());
  const storeDir = options.storeDir ?? (await mkdtemp(join(tmpdir(), "atomizer-nats-")));
  let child: ChildProcess | undefined;
  let output = "";

  const launch = async (): Promise<void> => {
    output = "";
    const started = spawn(
      binary,
      ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir, ...(options.args ?? [])],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child = started;
    // A test process that dies before stop() must not leave its server running (PPID 1, port held).
    const orphanGuard = () => started.kill("SIGKILL");
    process.once("exit", orphanGuard);
    started.once("exit", () => process.removeListener("exit", orphanGuard));
    started.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (started.exitCode !== null) break;
      // "Server is ready" comes after JetStream has recovered its store; the port alone opens earlier
      if (output.includes("Server is ready") && (await portAccepts(port))) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    started.kill("SIGKILL");
    throw new Error(`nats-server on port ${port} did not become ready within 10 s:\n${output.slice(-2000)}`);
  };

  const halt = async (): Promise<void> => {
    if (child === undefined) return;
    const running = child;
    child = undefined;
    if (running.exitCode === null && running.signalCode === null) running.kill("SIGTERM");
    await exited(running);
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    stop: async () => {
      await halt();
      if (options.storeDir === undefined) await rm(storeDir, { recursive: true, force: true });
    },
    kill: (signal: NodeJS.Signals = "SIGKILL") => {
      child?.kill(signal);
    },
    restart: async () => {
      await halt();
      await launch();
    },
  };
}
