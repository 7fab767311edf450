// The plugin's files agree with each other and with the server, without OpenClaw (fast, in `npm test`).
// test/plugin/openclaw-plugin.openclaw.ts checks the same files against the real OpenClaw CLI.
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import entry from "../../plugin/plugin-entry.ts";
import { loadAuthConfig } from "../../submitter/config/auth-config.ts";
import { TOOL_NAMES } from "../../submitter/config/roles.ts";

const CHECKOUT = resolve(import.meta.dirname, "../..");
const EXAMPLES = join(CHECKOUT, "examples", "openclaw");
const AGENTS = [
  "manager",
  "tech-lead",
  "secretary",
  "auditor",
  "optimizer",
  "study-builder",
  "nx-expert",
  "webster",
];

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(join(CHECKOUT, path), "utf8")) as T;
}

/** SKILL.md front matter as key -> raw value (OpenClaw reads metadata as one line of JSON). */
async function frontMatter(): Promise<{ fields: Record<string, string>; body: string }> {
  const text = await readFile(join(CHECKOUT, "SKILL.md"), "utf8");
  const match = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
  if (!match) throw new Error("SKILL.md has no --- front matter ---");
  const fields: Record<string, string> = {};
  for (const line of (match[1] ?? "").split("\n")) {
    const colon = line.indexOf(":");
    fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return { fields, body: match[2] ?? "" };
}

describe("plugin files", () => {
  it("use one id for the manifest, the entry, the skill and the package's entry point", async () => {
    const manifest = await readJson<{
      id: string;
      skills: string[];
      mcpServers: Record<string, { args: string[] }>;
    }>("openclaw.plugin.json");
    const pkg = await readJson<{ openclaw: { extensions: string[] } }>("package.json");
    const { fields } = await frontMatter();
    expect(manifest.id).toBe("atomizer-job-queue");
    expect(entry.id).toBe(manifest.id);
    expect(fields.name).toBe(manifest.id);
    expect(manifest.skills).toEqual(["./"]);
    expect(pkg.openclaw.extensions).toEqual(["./plugin/openclaw-entry.js"]);
    // The JavaScript entry OpenClaw loads hands over the same plugin (here from the sources).
    const shim = "../../plugin/openclaw-entry.js";
    const { default: openclawEntry } = (await import(shim)) as { default: typeof entry };
    expect(openclawEntry.id).toBe(entry.id);
    expect(openclawEntry.description).toBe(entry.description);
    expect(Object.keys(manifest.mcpServers)).toEqual(["atomizer-jobs"]);
    expect(manifest.mcpServers["atomizer-jobs"]?.args).toEqual([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: OpenClaw's own placeholder, kept literally in the manifest
      "${CLAUDE_PLUGIN_ROOT}/bin/atomizer-jobs.js",
      "mcp",
    ]);
  });

  it("give SKILL.md a description and single-line JSON metadata naming its requirements", async () => {
    const { fields, body } = await frontMatter();
    expect(fields.description?.length).toBeGreaterThan(40);
    const metadata = JSON.parse(fields.metadata ?? "") as {
      openclaw: { requires: { bins: string[] }; emoji: string; homepage: string };
    };
    expect(metadata.openclaw.requires.bins).toEqual(["node"]);
    expect(metadata.openclaw.emoji).toBeTruthy();
    expect(metadata.openclaw.homepage).toMatch(/^https:\/\//);
    for (const tool of TOOL_NAMES) expect(body).toContain(tool);
    expect(body.split("\n").length).toBeLessThan(200);
  });
});

describe("example configs", () => {
  it("reference tokens only through environment variables", async () => {
    const files = (await readdir(EXAMPLES)).filter((name) => name.endsWith(".json5"));
    expect(files.sort()).toEqual(
      [...AGENTS.map((agent) => `gateway-${agent}.json5`), "single-gateway.json5"].sort(),
    );
    for (const name of files) {
      const text = await readFile(join(EXAMPLES, name), "utf8");
      for (const [, value] of text.matchAll(/(?:token|Authorization)\s*:\s*"([^"]*)"/g)) {
        expect({ name, value }).toEqual({
          name,
          value: expect.stringMatching(/^(Bearer )?\$\{[A-Z_][A-Z0-9_]*\}$/),
        });
      }
    }
  });

  it.each(AGENTS.map((agent, i) => ({ agent, port: 18800 + 4 * i })))(
    "gateway-$agent.json5 listens on $port and sends its own token to the shared server",
    async ({ agent, port }) => {
      const text = await readFile(join(EXAMPLES, `gateway-${agent}.json5`), "utf8");
      const variable = `ATOMIZER_TOKEN_${agent.toUpperCase().replace(/-/g, "_")}`;
      expect(text).toContain(`port: ${port},`);
      expect(text).toContain(`Authorization: "Bearer \${${variable}}"`);
      expect(text).toContain('url: "http://127.0.0.1:8765/mcp"');
      expect(text).toContain('transport: "streamable-http"');
    },
  );

  it("map the eight agents to their roles in access.json, in the server's own format", async () => {
    const env: Record<string, string> = {};
    for (const agent of AGENTS)
      env[`ATOMIZER_TOKEN_${agent.toUpperCase().replace(/-/g, "_")}`] = `token-of-${agent}-0123456789`;
    const table = await loadAuthConfig(join(EXAMPLES, "access.json"), env);
    const roles = Object.fromEntries(table.agents.map((identity) => [identity.agent, identity.role]));
    expect(roles).toEqual({
      manager: "observer",
      "tech-lead": "observer",
      secretary: "observer",
      auditor: "observer",
      optimizer: "processor",
      "study-builder": "submitter",
      "nx-expert": "observer",
      webster: "observer",
    });
    expect(table.lookup("token-of-study-builder-0123456789")).toEqual({
      agent: "study-builder",
      role: "submitter",
    });
  });
});
