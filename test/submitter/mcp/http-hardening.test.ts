// HTTP hardening (issue 13): Host/Origin allowlist against DNS rebinding, no public bind without a
// flag, idle sessions closed, resources/list_changed sent when jobs appear or go.
import { spawn } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ResourceListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { BIN, REPO } from "../../helpers/atomizer-jobs.ts";
import type { HttpServerProcess } from "../fixtures/mcp-clients.ts";
import { callOk, connectHttp, startHttpServer } from "../fixtures/mcp-clients.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";
import { makeStudy } from "../fixtures/study-fixture.ts";

const TOKEN = "hardening-token-0123456789abcdef";
const ENV = { ATOMIZER_TOKEN_HARDENING: TOKEN };
const IDLE_S = 1;

let base: string;
let queue: QueuePaths;
let study: string;
let config: string;
let server: HttpServerProcess;
const clients: Client[] = [];

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  study = await makeStudy(base);
  config = join(base, "agents.json");
  await writeFile(
    config,
    JSON.stringify({
      tokens: [{ agent: "study-builder", role: "admin", token_env: "ATOMIZER_TOKEN_HARDENING" }],
    }),
  );
  server = await startHttpServer(
    [
      "--queue",
      queue.root,
      "--config",
      config,
      "--allow",
      base,
      "--allowed-host",
      "jobs.example.internal",
      "--allowed-origin",
      "https://console.example.internal",
      "--session-idle",
      String(IDLE_S),
    ],
    ENV,
  );
});

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

/** A raw initialize, with the headers a browser page or a rebinding attack would send. */
async function initialize(headers: Record<string, string>): Promise<Response> {
  return fetch(server.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${TOKEN}`,
      ...headers,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    }),
  });
}

describe("Host and Origin are checked against an allowlist", () => {
  const port = () => new URL(server.url).port;
  test.each([
    [
      "a rebinding Host and Origin: 403",
      { host: "evil.example.com", origin: "http://evil.example.com" },
      403,
    ],
    ["a rebinding Host alone: 403", { host: "evil.example.com" }, 403],
    ["a loopback Host with a foreign Origin: 403", { origin: "http://evil.example.com" }, 403],
    ["a loopback Host and Origin: 200", { origin: "http://localhost:3000" }, 200],
    ["an added Host name: 200", { host: "jobs.example.internal:443" }, 200],
    ["an added Origin: 200", { origin: "https://console.example.internal" }, 200],
  ])("%s", async (_label, headers, status) => {
    // fetch() never lets a caller set Host; the raw request does.
    const response = await rawPost({ host: `127.0.0.1:${port()}`, ...headers });
    expect(response.status).toBe(status);
  });
});

/** POST initialize with exactly these headers (node:http, so Host can be set). */
async function rawPost(headers: Record<string, string>): Promise<{ status: number }> {
  const url = new URL(server.url);
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          authorization: `Bearer ${TOKEN}`,
          "content-length": Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("binding", () => {
  async function start(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(
      process.execPath,
      [BIN, "mcp", "--queue", queue.root, "--config", config, "--allow", base, ...args],
      { cwd: REPO, env: { ...process.env, ...ENV }, stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/listening on http/.test(stderr)) child.kill("SIGTERM");
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { code, stderr };
  }

  test("a non-loopback address without --public is refused", async () => {
    const { code, stderr } = await start(["--http", "0.0.0.0:0"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/needs --public/);
  });

  test("with --public it starts, with a warning", async () => {
    const { stderr } = await start(["--http", "0.0.0.0:0", "--public"]);
    expect(stderr).toMatch(/WARNING: listening on 0\.0\.0\.0, reachable from other machines/);
    expect(stderr).toMatch(/listening on http:\/\//);
  });
});

describe("sessions", () => {
  test("an abandoned session is closed after the idle time; its id then gets 404", async () => {
    const opened = await initialize({});
    expect(opened.status).toBe(200);
    const sessionId = opened.headers.get("mcp-session-id") ?? "";
    await opened.body?.cancel();
    expect(sessionId).not.toBe("");
    await new Promise((resolve) => setTimeout(resolve, IDLE_S * 1000 + 1500));
    const later = await fetch(server.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${TOKEN}`,
        "mcp-session-id": sessionId,
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} }),
    });
    expect(later.status).toBe(404);
    expect(await later.text()).toContain("unknown or expired session");
  });

  test("a connected client (its notification stream open) is not idle, and hears list_changed", async () => {
    const client = await connectHttp(server.url, TOKEN);
    clients.push(client);
    const changed = new Promise<void>((resolve) =>
      client.setNotificationHandler(ResourceListChangedNotificationSchema, () => resolve()),
    );
    await new Promise((resolve) => setTimeout(resolve, IDLE_S * 1000 + 1500));
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await callOk(client, "submit_job", {
      study_dir: study,
      name: "list changed study",
      project: "starspec-m1-wfe",
    });
    await changed;
    const { resources } = await client.listResources();
    expect(resources.some((resource) => resource.name.endsWith("-list-changed-study"))).toBe(true);
  });
});
