// The error-shape table (issue 13): every refusal, from input validation to unknown tools, answers
// `error (<code>): ...` / `next: ...` with structuredContent {code, message, next}, through a real
// stdio client (which validates structuredContent against each tool's listed outputSchema).
import { rm } from "node:fs/promises";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ROLE_TOOLS } from "../../../submitter/config/roles.ts";
import { errorCases } from "../fixtures/error-cases.ts";
import { shapeProblem } from "../fixtures/error-shape.ts";
import { call, connectStdio, textOf } from "../fixtures/mcp-clients.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";
import { makeStudy } from "../fixtures/study-fixture.ts";

let base: string;
let queueRoot: string;
let study: string;
let admin: Client;
let observer: Client;

beforeAll(async () => {
  ({
    base,
    queue: { root: queueRoot },
  } = await makeQueue());
  study = await makeStudy(base);
  const common = ["--queue", queueRoot, "--allow", base];
  ({ client: admin } = await connectStdio([...common, "--role", "admin"]));
  ({ client: observer } = await connectStdio([...common, "--role", "observer", "--agent", "manager"]));
  // The client caches each tool's outputSchema from tools/list and validates every result with it.
  await admin.listTools();
  await observer.listTools();
});

afterAll(async () => {
  await admin?.close();
  await observer?.close();
  await rm(base, { recursive: true, force: true });
});

describe("one error shape", () => {
  test("every row of the table answers error (<code>) / next, with {code, message, next}", async () => {
    const rows = errorCases(study);
    expect(rows.length).toBeGreaterThanOrEqual(45);
    const problems: string[] = [];
    for (const row of rows) {
      const label = `${row.tool.slice(0, 40)} ${row.kind} ${JSON.stringify(row.args).slice(0, 80)}`;
      const result = await call(admin, row.tool, row.args);
      const problem = shapeProblem(result);
      if (problem) problems.push(`${label}: ${problem}`);
      else if ((result.structuredContent as { code: string }).code !== row.code) {
        problems.push(
          `${label}: code ${(result.structuredContent as { code: string }).code}, expected ${row.code}`,
        );
      }
      expect(textOf(result).length, label).toBeLessThan(2000);
    }
    expect(problems).toEqual([]);
  });

  test.each([
    ["a missing field", "submit_job", { study_dir: "/tmp" }, /name is missing.*project is missing/s],
    ["a wrong type", "wait_for_job", { job_id: 7 }, /job_id: expected string, received number/],
    [
      "a bound",
      "job_status",
      { job_id: "j".repeat(65) },
      /job_id: Too big: expected string to have <=64 characters/,
    ],
    ["an enum", "wait_for_job", { job_id: "job-20990101-000000-x", until: "ever" }, /until: Invalid option/],
  ])("input validation names %s and says what the tool takes", async (_label, tool, args, message) => {
    const result = await call(admin, tool, args);
    expect(shapeProblem(result)).toBeUndefined();
    expect(textOf(result)).toMatch(message);
    expect(textOf(result)).toMatch(new RegExp(`next: ${tool} takes .*\\(required\\)`));
  });

  test("an unknown tool lists the role's tools", async () => {
    const result = await call(observer, "delete_everything");
    expect(shapeProblem(result)).toBeUndefined();
    expect(result.structuredContent).toMatchObject({ code: "not_found" });
    for (const tool of ROLE_TOOLS.observer) expect(textOf(result)).toContain(tool);
    expect(textOf(result)).not.toContain("submit_job");
  });

  test("another role's tool is forbidden, in the same shape, naming what the role may use", async () => {
    const result = await call(observer, "submit_job", { study_dir: study, name: "x", project: "y" });
    expect(shapeProblem(result)).toBeUndefined();
    expect(result.structuredContent).toMatchObject({ code: "forbidden" });
    expect(textOf(result)).toContain("manager has role observer, which may not use submit_job");
  });

  test("an oversized input is never echoed past 200 characters, and next: survives", async () => {
    const result = await call(admin, "submit_job", {
      study_dir: `/${"a".repeat(3000)}`,
      name: "echo bound study",
      project: "starspec-m1-wfe",
    });
    expect(shapeProblem(result)).toBeUndefined();
    expect(textOf(result)).toMatch(/\(3001 characters\)/);
    expect(textOf(result)).toMatch(/\nnext: .+$/);
  });

  test("without --allow (or ATOMIZER_ALLOW) submit_job refuses, saying how to set it; with the variable it submits", async () => {
    const { client: bare } = await connectStdio(["--queue", queueRoot, "--role", "submitter"], {
      ATOMIZER_ALLOW: "",
    });
    try {
      const refused = await call(bare, "submit_job", {
        study_dir: study,
        name: "no root study",
        project: "starspec-m1-wfe",
      });
      expect(shapeProblem(refused)).toBeUndefined();
      expect(refused.structuredContent).toMatchObject({ code: "forbidden" });
      expect(textOf(refused)).toMatch(
        /no submission folder.*\nnext: .*--allow <folder> \(or ATOMIZER_ALLOW=<folder>\)/s,
      );
    } finally {
      await bare.close();
    }
    const { client: viaEnv } = await connectStdio(["--queue", queueRoot, "--role", "submitter"], {
      ATOMIZER_ALLOW: base,
    });
    try {
      const submitted = await call(viaEnv, "submit_job", {
        study_dir: study,
        name: "env root study",
        project: "starspec-m1-wfe",
      });
      expect(submitted.isError).toBeFalsy();
    } finally {
      await viaEnv.close();
    }
  });
});
