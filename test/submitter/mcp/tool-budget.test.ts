// What tools/list costs each agent, measured over a real stdio client per role: every agent pays it
// on every turn, so it has a budget (issue 13: 31,664 characters for admin before, 6-8K tokens).
import { rm } from "node:fs/promises";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { ROLE_TOOLS, ROLES } from "../../../submitter/config/roles.ts";
import { connectStdio, runInspector, serverFlags } from "../fixtures/mcp-clients.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";

/** About 2,500 tokens of JSON per agent. */
const BUDGET_CHARS = 10_000;

let base: string;
let queue: QueuePaths;
const listed = new Map<string, Tool[]>();

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  for (const role of ROLES) {
    const clients: Client[] = [];
    try {
      const { client } = await connectStdio(serverFlags(queue, base, { role }));
      clients.push(client);
      listed.set(role, (await client.listTools()).tools);
    } finally {
      for (const client of clients) await client.close();
    }
  }
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("tools/list per role", () => {
  test.each(ROLES)("%s: its own tools within %s characters of JSON", (role) => {
    const tools = listed.get(role) ?? [];
    expect(tools.map((tool) => tool.name).sort()).toEqual([...ROLE_TOOLS[role]].sort());
    const size = JSON.stringify({ tools }).length;
    expect(size, `${role}: ${size} characters`).toBeLessThanOrEqual(BUDGET_CHARS);
  });

  test.each(ROLES)(
    "%s: every tool has a title, a description, all four hints and an object outputSchema",
    (role) => {
      for (const tool of listed.get(role) ?? []) {
        expect(tool.title, tool.name).toBeTruthy();
        expect(tool.description?.length, tool.name).toBeGreaterThan(40);
        for (const hint of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const) {
          expect(tool.annotations?.[hint], `${tool.name} ${hint}`).toBeTypeOf("boolean");
        }
        expect(tool.outputSchema?.type, tool.name).toBe("object");
        // Never "required": a client without MCP Tasks (OpenClaw) hides such tools.
        expect(tool.execution?.taskSupport ?? "forbidden", tool.name).not.toBe("required");
      }
    },
  );

  test("wait_for_job and fetch_results may run as tasks; the others may not", () => {
    const admin = listed.get("admin") ?? [];
    const optional = admin
      .filter((tool) => tool.execution?.taskSupport === "optional")
      .map((tool) => tool.name);
    expect(optional.sort()).toEqual(["fetch_results", "wait_for_job"]);
  });

  test("the status view is typed once (job_status) and referenced by wait_for_job", () => {
    const admin = listed.get("admin") ?? [];
    const view = (name: string) => {
      const schema = admin.find((tool) => tool.name === name)?.outputSchema as unknown as {
        properties: { job: { properties: Record<string, unknown>; description?: string } };
      };
      return schema.properties.job;
    };
    expect(Object.keys(view("job_status").properties)).toEqual(
      expect.arrayContaining(["job_id", "seq", "state", "progress", "results", "error", "stale"]),
    );
    expect(Object.keys(view("wait_for_job").properties)).toEqual(["job_id", "seq", "state"]);
    expect(view("wait_for_job").description).toContain("job_status");
  });

  test("the MCP Inspector CLI finds no schema portability problem (--strict)", async () => {
    const envelope = (await runInspector(serverFlags(queue, base, { role: "admin" }), [
      "--method",
      "tools/list",
      "--strict",
      "--format",
      "json",
    ])) as { result: { tools: Tool[] }; schemaFindings?: unknown[] };
    expect(envelope.result.tools).toHaveLength(ROLE_TOOLS.admin.length);
    expect(envelope.schemaFindings ?? []).toEqual([]);
  });
});
