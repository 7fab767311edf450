import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { BIN, REPO } from "../../helpers/atomizer-jobs.ts";
import type { HttpServerProcess } from "../fixtures/mcp-clients.ts";
import { call, callOk, connectHttp, startHttpServer, textOf } from "../fixtures/mcp-clients.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";
import { makeStudy } from "../fixtures/study-fixture.ts";

const TOKENS = {
  ATOMIZER_TOKEN_BUILDER: "builder-token-0123456789abcdef",
  ATOMIZER_TOKEN_MANAGER: "manager-token-0123456789abcdef",
  ATOMIZER_TOKEN_POST: "post-token-0123456789abcdef0000",
};

let base: string;
let queue: QueuePaths;
let study: string;
let server: HttpServerProcess;
const clients: Client[] = [];

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  study = await makeStudy(base);
  const config = join(base, "agents.json");
  await writeFile(
    config,
    JSON.stringify({
      tokens: [
        { agent: "study-builder", role: "submitter", token: { token_env: "ATOMIZER_TOKEN_BUILDER" } },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own env-reference syntax
        { agent: "manager", role: "observer", token: "${ATOMIZER_TOKEN_MANAGER}" },
        { agent: "post-processor", role: "processor", token_env: "ATOMIZER_TOKEN_POST" },
      ],
    }),
  );
  server = await startHttpServer(["--queue", queue.root, "--config", config, "--allow", base], TOKENS);
});

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

async function connect(token: string): Promise<Client> {
  const client = await connectHttp(server.url, token);
  clients.push(client);
  return client;
}

describe("mcp over Streamable HTTP", () => {
  test.each([
    ["no token", undefined, 'Bearer realm="atomizer-jobs"'],
    ["a wrong token", "Bearer not-a-real-token", 'error="invalid_token"'],
  ])("%s gets 401 with WWW-Authenticate", async (_label, authorization, challenge) => {
    const response = await fetch(server.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(authorization ? { authorization } : {}),
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain(challenge);
  });

  test("the SDK client without a token cannot connect", async () => {
    await expect(connectHttp(server.url, undefined)).rejects.toThrow();
  });

  test.each([
    [
      "manager",
      TOKENS.ATOMIZER_TOKEN_MANAGER,
      ["job_status", "list_jobs", "runner_status", "tail_log", "wait_for_job"],
    ],
    [
      "study-builder",
      TOKENS.ATOMIZER_TOKEN_BUILDER,
      ["cancel_job", "job_status", "list_jobs", "runner_status", "submit_job", "tail_log", "wait_for_job"],
    ],
    [
      "post-processor",
      TOKENS.ATOMIZER_TOKEN_POST,
      [
        "archive_job",
        "fetch_results",
        "job_status",
        "list_jobs",
        "runner_status",
        "tail_log",
        "wait_for_job",
      ],
    ],
  ])("%s sees only its role's tools", async (_agent, token, expected) => {
    const client = await connect(token);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(expected);
  });

  test("a submitter's job carries its agent name; an observer reads it but may not submit or cancel", async () => {
    const builder = await connect(TOKENS.ATOMIZER_TOKEN_BUILDER);
    const { job_id: jobId } = await callOk<{ job_id: string }>(builder, "submit_job", {
      study_dir: study,
      name: "mirror over http",
      project: "starspec-m1-wfe",
    });
    const job = JSON.parse(await readFile(join(queue.outbox, jobId, "job.json"), "utf8"));
    expect(job.created_by).toBe("study-builder");

    const manager = await connect(TOKENS.ATOMIZER_TOKEN_MANAGER);
    const status = await callOk<{ job: { state: string; created_by: string } }>(manager, "job_status", {
      job_id: jobId,
    });
    expect(status.job).toMatchObject({ state: "submitted", created_by: "study-builder" });
    for (const tool of ["submit_job", "cancel_job", "archive_job"]) {
      const refused = await call(manager, tool, { job_id: jobId });
      expect(refused.isError, tool).toBe(true);
      expect(textOf(refused)).toContain(`manager has role observer, which may not use ${tool}`);
    }
    const cancelled = await callOk<{ requested_by: string }>(builder, "cancel_job", { job_id: jobId });
    expect(cancelled.requested_by).toBe("study-builder");
  });

  test("a session belongs to its caller", async () => {
    const builder = await connect(TOKENS.ATOMIZER_TOKEN_BUILDER);
    await builder.listTools();
    const sessionId = (builder.transport as { sessionId?: string } | undefined)?.sessionId;
    expect(sessionId).toBeTruthy();
    const response = await fetch(server.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${TOKENS.ATOMIZER_TOKEN_MANAGER}`,
        "mcp-session-id": sessionId ?? "",
        "mcp-protocol-version": "2025-06-18",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/list", params: {} }),
    });
    expect(response.status).toBe(403);
  });

  test.each([
    [
      "a literal token",
      { tokens: [{ agent: "manager", role: "observer", token: "hunter2-hunter2-hunter2" }] },
      /literal.*token_env/,
    ],
    [
      "an unset variable",
      { tokens: [{ agent: "manager", role: "observer", token: { token_env: "ATOMIZER_TOKEN_UNSET_XYZ" } }] },
      /ATOMIZER_TOKEN_UNSET_XYZ is not set/,
    ],
    [
      "an unknown role",
      { tokens: [{ agent: "manager", role: "boss", token_env: "ATOMIZER_TOKEN_MANAGER" }] },
      /role/,
    ],
  ])("a config with %s is refused at start-up", async (_label, config, message) => {
    const file = join(base, `bad-${Math.random().toString(16).slice(2)}.json`);
    await writeFile(file, JSON.stringify(config));
    const child = spawn(
      process.execPath,
      [BIN, "mcp", "--queue", queue.root, "--http", "127.0.0.1:0", "--config", file],
      {
        cwd: REPO,
        env: { ...process.env, ...TOKENS },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
  });
});
