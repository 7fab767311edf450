// The plugin checked against the real OpenClaw CLI, offline: `npm run test:openclaw` (not part of
// `npm test`: the first run installs OpenClaw, about 650 MB, into a cache folder outside the clone).
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpenClaw, RunResult } from "./openclaw-cli.ts";
import { ensureOpenClaw, parseJsonOutput, runOpenClaw } from "./openclaw-cli.ts";
import type { ProbeOutput } from "./openclaw-probe.ts";
import { jobTools, ROLE_TOOLS } from "./openclaw-probe.ts";

const CHECKOUT = resolve(import.meta.dirname, "../..");
const BIN = join(CHECKOUT, "bin", "atomizer-jobs.js");
const EXAMPLES = join(CHECKOUT, "examples", "openclaw");
const PLUGIN_ID = "atomizer-job-queue";
const SERVER = "atomizer-jobs";

function expectOk(what: string, result: RunResult): void {
  if (result.exitCode !== 0) {
    throw new Error(
      `${what} exited ${result.exitCode}\nstdout:\n${result.stdout.slice(-3000)}\nstderr:\n${result.stderr.slice(-3000)}`,
    );
  }
}

/** Starts the shared HTTP server with the example access.json; resolves with its /mcp URL. */
async function startHttpServer(
  queue: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const args = [
    BIN,
    "mcp",
    "--queue",
    queue,
    "--http",
    "127.0.0.1:0",
    "--config",
    join(EXAMPLES, "access.json"),
  ];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const url = await new Promise<string>((done, fail) => {
    let seen = "";
    const timer = setTimeout(() => fail(new Error(`HTTP server did not start:\n${seen}`)), 60_000);
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      seen += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(seen);
      if (match?.[1]) {
        clearTimeout(timer);
        done(match[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`HTTP server exited ${code}:\n${seen}`));
    });
  });
  return { child, url };
}

describe("the plugin in real OpenClaw", () => {
  let openclaw: OpenClaw;
  let root: string;
  let queue: string;
  let env: Record<string, string>;
  /** Dummy values for every variable the example configs reference (tokens need 16+ characters). */
  let exampleEnv: Record<string, string>;

  beforeAll(async () => {
    openclaw = await ensureOpenClaw();
    root = await mkdtemp(join(tmpdir(), "atomizer-openclaw-"));
    queue = join(root, "queue");
    const init = await runNode([BIN, "init", "--queue", queue]);
    expectOk("atomizer-jobs init", init);
    env = {
      HOME: join(root, "home"),
      OPENCLAW_STATE_DIR: join(root, "state"),
      OPENCLAW_CONFIG_PATH: join(root, "openclaw.json"),
    };
    const access = JSON.parse(await readFile(join(EXAMPLES, "access.json"), "utf8")) as {
      tokens: { token: { token_env: string } }[];
    };
    const keys = join(root, "keys");
    for (const name of ["submitter", "workstation"])
      expectOk(`keygen ${name}`, await runNode([BIN, "keygen", "--out", keys, "--name", name]));
    exampleEnv = {
      ATOMIZER_PLUGIN_DIR: CHECKOUT,
      ATOMIZER_QUEUE_DIR: queue,
      ATOMIZER_STUDIES_DIR: root,
      ATOMIZER_KEYS_DIR: keys,
      OPENCLAW_GATEWAY_TOKEN: "gateway-token-for-tests-only",
    };
    for (const entry of access.tokens)
      exampleEnv[entry.token.token_env] = `${entry.token.token_env.toLowerCase()}-dummy`;
    const install = await runOpenClaw(
      openclaw,
      ["plugins", "install", "-l", CHECKOUT, "--force", "--accept-capabilities"],
      env,
    );
    expectOk("openclaw plugins install -l", install);
  }, 600_000);

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function runNode(args: string[]): Promise<RunResult> {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const exitCode = await new Promise<number>((done) => child.once("close", (code) => done(code ?? -1)));
    return { exitCode, stdout, stderr };
  }

  it("passes openclaw plugins doctor", async () => {
    const result = await runOpenClaw(openclaw, ["plugins", "doctor"], env);
    expectOk("plugins doctor", result);
    expect(result.stdout).toContain("checks passed");
  });

  it("loads, with the atomizer-jobs MCP server, in plugins inspect --runtime", async () => {
    const result = await runOpenClaw(openclaw, ["plugins", "inspect", PLUGIN_ID, "--runtime", "--json"], env);
    expectOk("plugins inspect", result);
    const inspect = parseJsonOutput<{
      plugin: {
        status: string;
        rootDir: string;
        source: string;
        mcpServers: Record<string, { command: string; args: string[] }>;
      };
      mcpServers: { name: string; hasStdioTransport: boolean }[];
      diagnostics: unknown[];
    }>("plugins inspect", result);
    expect(inspect.plugin.status).toBe("loaded");
    expect(await realpath(inspect.plugin.rootDir)).toBe(await realpath(CHECKOUT));
    // The JavaScript entry, which picks dist/ or the sources itself (OpenClaw would take a stale dist/).
    expect(await realpath(inspect.plugin.source)).toBe(
      await realpath(join(CHECKOUT, "plugin", "openclaw-entry.js")),
    );
    expect(inspect.mcpServers).toContainEqual({ name: SERVER, hasStdioTransport: true });
    expect(inspect.plugin.mcpServers[SERVER]?.args).toEqual([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: OpenClaw's own placeholder, kept literally in the manifest
      "${CLAUDE_PLUGIN_ROOT}/bin/atomizer-jobs.js",
      "mcp",
    ]);
    expect(inspect.diagnostics).toEqual([]);
  });

  it("offers the skill, eligible, from the root SKILL.md", async () => {
    const result = await runOpenClaw(openclaw, ["skills", "info", PLUGIN_ID, "--json"], env);
    expectOk("skills info", result);
    const info = parseJsonOutput<{
      name: string;
      eligible: boolean;
      filePath: string;
      emoji?: string;
      homepage?: string;
      modelVisible: boolean;
      requirements: { bins: string[] };
      missing: Record<string, string[]>;
    }>("skills info", result);
    expect(info.name).toBe(PLUGIN_ID);
    expect(info.eligible).toBe(true);
    expect(info.modelVisible).toBe(true);
    expect(info.emoji).toBeTruthy();
    expect(info.homepage).toMatch(/^https:\/\//);
    expect(info.requirements.bins).toContain("node");
    expect(Object.values(info.missing).flat()).toEqual([]);
    expect(await realpath(info.filePath)).toBe(await realpath(join(CHECKOUT, "SKILL.md")));
  });

  it("lists all nine tools in openclaw mcp probe", async () => {
    const config = JSON.parse(await readFile(env.OPENCLAW_CONFIG_PATH ?? "", "utf8")) as Record<
      string,
      unknown
    >;
    config.mcp = {
      servers: {
        [SERVER]: {
          command: process.execPath,
          args: [BIN, "mcp", "--queue", queue],
          env: { ATOMIZER_AGENT: "openclaw-test", ATOMIZER_ROLE: "admin" },
        },
      },
    };
    await writeFile(env.OPENCLAW_CONFIG_PATH ?? "", JSON.stringify(config, null, 2));
    const result = await runOpenClaw(openclaw, ["mcp", "probe", SERVER, "--json"], env);
    expectOk("mcp probe", result);
    const probe = parseJsonOutput<ProbeOutput>("mcp probe", result);
    expect(probe.diagnostics).toEqual([]);
    expect(jobTools(probe, SERVER)).toEqual(ROLE_TOOLS.admin?.slice().sort());
  });

  it("gives every example server exactly its role's tools (single gateway over stdio, per-agent over HTTP)", async () => {
    const json5 = openclaw.require("json5") as { parse: (text: string) => unknown };
    const read = async (name: string) =>
      json5.parse(await readFile(join(EXAMPLES, name), "utf8")) as {
        mcp: { servers: Record<string, Record<string, unknown>> };
      };
    const http = await startHttpServer(queue, exampleEnv);
    try {
      const servers: Record<string, Record<string, unknown>> = {
        ...(await read("single-gateway.json5")).mcp.servers,
      };
      const expected: Record<string, string[]> = {
        [SERVER]: ROLE_TOOLS.observer ?? [],
        "atomizer-submit": ["cancel_job", "submit_job"],
        "atomizer-process": ["archive_job", "fetch_results"],
      };
      const access = JSON.parse(await readFile(join(EXAMPLES, "access.json"), "utf8")) as {
        tokens: { agent: string; role: string }[];
      };
      for (const { agent, role } of access.tokens) {
        const gateway = (await read(`gateway-${agent}.json5`)).mcp.servers[SERVER];
        expect(gateway?.url).toBe("http://127.0.0.1:8765/mcp");
        servers[`gw-${agent}`] = { ...gateway, url: http.url };
        expected[`gw-${agent}`] = ROLE_TOOLS[role] ?? [];
      }
      const configPath = join(root, "examples-probe.json");
      await writeFile(configPath, JSON.stringify({ mcp: { servers } }, null, 2));
      const result = await runOpenClaw(openclaw, ["mcp", "probe", "--json"], {
        ...env,
        ...exampleEnv,
        OPENCLAW_CONFIG_PATH: configPath,
      });
      expectOk("mcp probe (examples)", result);
      const probe = parseJsonOutput<ProbeOutput>("mcp probe (examples)", result);
      expect(probe.diagnostics).toEqual([]);
      for (const [server, tools] of Object.entries(expected)) {
        expect({ server, tools: jobTools(probe, server) }).toEqual({ server, tools: tools.slice().sort() });
      }
    } finally {
      http.child.kill();
    }
  });

  it("accepts every example config in openclaw config validate, without warnings", async () => {
    const files = (await readdir(EXAMPLES)).filter((name) => name.endsWith(".json5")).sort();
    expect(files).toHaveLength(9);
    const results = [];
    // Two at a time: each validation is a separate OpenClaw process of a few seconds.
    for (let i = 0; i < files.length; i += 2) {
      results.push(
        ...(await Promise.all(
          files.slice(i, i + 2).map(async (name) => {
            const copy = join(root, `validate-${name}`);
            await writeFile(copy, await readFile(join(EXAMPLES, name)));
            const result = await runOpenClaw(openclaw, ["config", "validate", "--json"], {
              ...env,
              ...exampleEnv,
              OPENCLAW_CONFIG_PATH: copy,
            });
            const output = parseJsonOutput<{ valid: boolean; warnings?: unknown[]; issues?: unknown[] }>(
              `config validate ${name}`,
              result,
            );
            return {
              name,
              exitCode: result.exitCode,
              valid: output.valid,
              warnings: output.warnings ?? [],
              issues: output.issues ?? [],
            };
          }),
        )),
      );
    }
    for (const result of results) {
      expect(result).toEqual({ name: result.name, exitCode: 0, valid: true, warnings: [], issues: [] });
    }
  });
});
