// Hostile corpus, HTTP side: token configs that must be refused at start (one agent under two roles
// once let the lower role use the higher one's session), request bodies over the limit (once a 500)
// or malformed, and durations past what a timer can hold.

import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { readJob } from "../../../protocol/index.ts";
import { loadAuthConfig } from "../../../submitter/config/auth-config.ts";
import { MAX_BODY_BYTES } from "../../../submitter/mcp/http-body.ts";
import { runAtomizerJobs } from "../../helpers/atomizer-jobs.ts";
import { mkfifo, nested, POSIX } from "../../helpers/hostile-fs.ts";
import type { HttpServerProcess } from "../fixtures/mcp-clients.ts";
import { call, connectHttp, startHttpServer, textOf } from "../fixtures/mcp-clients.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";
import { makeStudy } from "../fixtures/study-fixture.ts";

const ENV = {
  TOKEN_A: "token-a-0123456789abcdef",
  TOKEN_B: "token-b-0123456789abcdef",
  TOKEN_SHORT: "short",
};
const entry = (agent: string, role: string, variable = "TOKEN_A") => ({
  agent,
  role,
  token: { token_env: variable },
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomizer-hostile-http-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(
  name: string,
  content: string | Buffer | ((path: string) => Promise<void>),
): Promise<string> {
  const path = join(dir, name);
  if (typeof content === "function") await content(path);
  else await writeFile(path, content);
  return path;
}

const json = (value: unknown) => JSON.stringify(value);

describe("HTTP token configs that must be refused at start", () => {
  const cases: [string, string | Buffer | ((path: string) => Promise<void>), RegExp][] = [
    [
      "one agent under two roles",
      json({ tokens: [entry("manager", "observer"), entry("manager", "admin", "TOKEN_B")] }),
      /agent manager is listed twice with different roles \(tokens\[0\] as observer, tokens\[1\] as admin\); give each agent one role/,
    ],
    [
      "one agent under two roles, far apart",
      json({
        tokens: [
          entry("a", "observer"),
          entry("b", "submitter", "TOKEN_B"),
          { ...entry("a", "processor"), token: { token_env: "TOKEN_C" } },
        ],
      }),
      /agent a is listed twice with different roles/,
    ],
    ["a FIFO as the config", async (path) => mkfifo(path), /FIFO/],
    ["a folder as the config", async (path) => void (await mkdir(path)), /a folder/],
    ["a missing file", async () => undefined, /ENOENT/],
    ["over 1 MiB", `{"tokens":[],"pad":"${"x".repeat(1024 * 1024)}"}`, /at most 1048576 bytes/],
    ["invalid UTF-8", Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), /not valid UTF-8/],
    ["nested 10,000 deep", `{"tokens":${nested(10_000, "array")}}`, /more than 64 deep/],
    ["not JSON", "tokens: [manager]", /not valid JSON/],
    ["no tokens", json({ tokens: [] }), /tokens: Too small|expected {"tokens"/],
    [
      "a literal token",
      json({ tokens: [{ agent: "x", role: "admin", token: "literal-secret-0123456789" }] }),
      /written as a literal; put it in an environment variable/,
    ],
    [
      "an unset variable",
      json({ tokens: [entry("x", "admin", "NOT_SET_ANYWHERE")] }),
      /NOT_SET_ANYWHERE is not set/,
    ],
    ["a short token", json({ tokens: [entry("x", "admin", "TOKEN_SHORT")] }), /shorter than 16 characters/],
    [
      "one token for two agents",
      json({ tokens: [entry("x", "admin"), entry("y", "observer")] }),
      /also used by another agent/,
    ],
    [
      "token and token_env both",
      json({
        tokens: [{ agent: "x", role: "admin", token: { token_env: "TOKEN_A" }, token_env: "TOKEN_B" }],
      }),
      /either token or token_env, not both/,
    ],
    ["an unknown role", json({ tokens: [entry("x", "root")] }), /role/],
    ["an agent name with a slash", json({ tokens: [entry("../x", "admin")] }), /agent names are letters/],
    ["an unknown field", json({ tokens: [entry("x", "admin")], admin_password: "x" }), /Unrecognized key/],
  ];
  test.each(cases)("%s", async (label, content, message) => {
    const path = await configFile(`config-${label.replace(/\W+/g, "-")}`, content);
    const started = Date.now();
    await expect(loadAuthConfig(path, { ...ENV, TOKEN_C: "token-c-0123456789abcdef" })).rejects.toThrow(
      message,
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test("one agent twice with one role (a token being rotated) is accepted", async () => {
    const path = await configFile(
      "rotation.json",
      json({ tokens: [entry("builder", "submitter"), entry("builder", "submitter", "TOKEN_B")] }),
    );
    const table = await loadAuthConfig(path, ENV);
    expect(table.lookup(ENV.TOKEN_A)).toEqual({ agent: "builder", role: "submitter" });
    expect(table.lookup(ENV.TOKEN_B)).toEqual({ agent: "builder", role: "submitter" });
  });

  test("a config reached through a symlink (configuration management) is accepted", async () => {
    const real = await configFile("real.json", json({ tokens: [entry("builder", "submitter")] }));
    const path = await configFile("linked.json", (p) => symlink(real, p));
    expect((await loadAuthConfig(path, ENV)).agents).toEqual([{ agent: "builder", role: "submitter" }]);
  });

  test.skipIf(!POSIX).each([
    [
      "one agent under two roles",
      () => json({ tokens: [entry("manager", "observer"), entry("manager", "admin", "TOKEN_B")] }),
      /listed twice with different roles/,
    ],
    ["a FIFO config", async () => undefined, /FIFO/],
  ])(
    "the mcp command refuses %s at start and exits 1 (no hang)",
    async (label, content, message) => {
      const { queue } = await makeQueue();
      const path = join(dir, `process-${label.replace(/\W+/g, "-")}`);
      const text = await content();
      if (text === undefined) mkfifo(path);
      else await writeFile(path, text);
      const run = await runAtomizerJobs(
        ["mcp", "--queue", queue.root, "--http", "127.0.0.1:0", "--config", path],
        {
          env: { ...process.env, ...ENV },
          timeoutMs: 15_000,
        },
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(message);
      await rm(join(queue.root, ".."), { recursive: true, force: true });
    },
    20_000,
  );
});

describe("request bodies and durations against the real HTTP server", () => {
  let base: string;
  let queue: QueuePaths;
  let server: HttpServerProcess;
  let study: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    ({ base, queue } = await makeQueue());
    study = await makeStudy(base);
    const config = join(base, "agents.json");
    await writeFile(config, json({ tokens: [entry("study-builder", "submitter")] }));
    server = await startHttpServer(["--queue", queue.root, "--config", config, "--allow", base], ENV);
  }, 30_000);

  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await server?.stop();
    await rm(base, { recursive: true, force: true });
  });

  /** POSTs `body` raw: with Content-Length, or chunked when `chunked`; resolves with status and text. */
  function post(body: Buffer, chunked = false): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(server.url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${ENV.TOKEN_A}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...(chunked ? { "transfer-encoding": "chunked" } : { "content-length": String(body.length) }),
        },
      });
      let answered = false;
      req.on("response", (res) => {
        answered = true;
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      // The server drops the rest of an oversized body and closes: a write may fail after the answer,
      // but an error before any answer (the answer lost to a reset) fails the test instead of hanging it.
      req.on("error", (error) => (answered ? undefined : reject(error)));
      const piece = 256 * 1024;
      for (let at = 0; at < body.length; at += piece) req.write(body.subarray(at, at + piece));
      req.end();
    });
  }

  test.each([
    ["5 MB with Content-Length", Buffer.alloc(5_000_000, 0x20), false],
    ["one byte over the limit, chunked (no Content-Length)", Buffer.alloc(MAX_BODY_BYTES + 1, 0x20), true],
    ["20 MB chunked", Buffer.alloc(20 * 1024 * 1024, 0x20), true],
  ])(
    "%s answers 413 naming the limit",
    async (_label, body, chunked) => {
      const { status, text } = await post(body, chunked);
      expect(status).toBe(413);
      expect(text).toContain(`over the limit of ${MAX_BODY_BYTES} bytes`);
      expect(text).toContain("send a smaller request");
    },
    20_000,
  );

  test.each([
    ["not JSON", Buffer.from("{ nope"), /request body is not valid JSON/],
    [
      "invalid UTF-8",
      Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]),
      /request body is not valid UTF-8/,
    ],
    ["nested 100,000 deep", Buffer.from(nested(100_000, "array")), /more than 64 deep/],
  ])("a body that is %s answers 400 saying so", async (_label, body, message) => {
    const { status, text } = await post(body);
    expect(status).toBe(400);
    expect(text).toMatch(message);
  });

  test("the server still serves after all that", async () => {
    const client = await connectHttp(server.url, ENV.TOKEN_A);
    clients.push(client);
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain("submit_job");
  });

  test("submit_job keeps a 30-day timeout_s (the runner chains its timers); the server sets no timer with it", async () => {
    const client = await connectHttp(server.url, ENV.TOKEN_A);
    clients.push(client);
    const result = await call(client, "submit_job", {
      study_dir: study,
      name: "thirty day study",
      project: "long",
      timeout_s: 30 * 24 * 3600,
    });
    expect(result.isError).toBeFalsy();
    const id = (result.structuredContent as { job_id: string }).job_id;
    expect((await readJob(join(queue.outbox, id))).timeout_s).toBe(2_592_000);
  });

  test.each([
    [
      "submit_job timeout_s past 30 days",
      "submit_job",
      () => ({ study_dir: study, name: "too long study", project: "long", timeout_s: 30 * 24 * 3600 + 1 }),
      /timeout_s/,
    ],
    [
      "wait_for_job timeout_s of 2^31 ms and more",
      "wait_for_job",
      () => ({ job_id: "job-20260210-143022-none", timeout_s: 2 ** 31 }),
      /timeout_s/,
    ],
  ])("%s is refused, never handed to a timer", async (_label, tool, args, message) => {
    const client = await connectHttp(server.url, ENV.TOKEN_A);
    clients.push(client);
    const before = (await readdir(queue.outbox)).length;
    const started = Date.now();
    const result = await call(client, tool, args());
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(message);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await readdir(queue.outbox)).length).toBe(before);
  });
});
