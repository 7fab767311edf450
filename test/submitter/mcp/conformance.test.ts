// The MCP conformance suite (@modelcontextprotocol/conformance) against the real HTTP server: the
// server scenarios that apply to a job queue (it has no prompts, completions, sampling or demo tools).
// The suite cannot send a bearer token, so it talks through a proxy that adds one and forwards every
// other header (Host, Origin) untouched: the server itself judges those.
import { execFile } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import { REPO } from "../../helpers/atomizer-jobs.ts";
import type { AuthProxy } from "../fixtures/auth-proxy.ts";
import { startAuthProxy } from "../fixtures/auth-proxy.ts";
import type { HttpServerProcess } from "../fixtures/mcp-clients.ts";
import { startHttpServer } from "../fixtures/mcp-clients.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";

const run = promisify(execFile);
const TOKEN = "conformance-token-0123456789abcdef";
const SCENARIOS = [
  "server-initialize",
  "ping",
  "logging-set-level",
  "tools-list",
  "resources-list",
  "resources-subscribe",
  "resources-unsubscribe",
  "dns-rebinding-protection",
  "server-sse-multiple-streams",
];

interface Check {
  id: string;
  status: string;
  errorMessage?: string;
}

let base: string;
let server: HttpServerProcess;
let proxy: AuthProxy;

beforeAll(async () => {
  let root: string;
  ({
    base,
    queue: { root },
  } = await makeQueue());
  const config = join(base, "agents.json");
  await writeFile(
    config,
    JSON.stringify({
      tokens: [{ agent: "conformance", role: "observer", token_env: "ATOMIZER_TOKEN_CONFORMANCE" }],
    }),
  );
  server = await startHttpServer(["--queue", root, "--config", config, "--allow", base], {
    ATOMIZER_TOKEN_CONFORMANCE: TOKEN,
  });
  proxy = await startAuthProxy(server.url, TOKEN);
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

test.each(SCENARIOS)("conformance scenario %s passes", async (scenario) => {
  const out = join(base, `conformance-${scenario}`);
  await run(
    "npx",
    ["--no-install", "conformance", "server", "--url", proxy.url, "--scenario", scenario, "-o", out],
    { cwd: REPO, timeout: 120_000 },
  ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }));
  const checks: Check[] = [];
  for (const dir of await readdir(out)) {
    checks.push(...(JSON.parse(await readFile(join(out, dir, "checks.json"), "utf8")) as Check[]));
  }
  expect(checks.length, scenario).toBeGreaterThan(0);
  const failed = checks.filter((check) => check.status !== "SUCCESS" && check.status !== "INFO");
  expect(failed.map((check) => `${check.id}: ${check.status} ${check.errorMessage ?? ""}`)).toEqual([]);
});
