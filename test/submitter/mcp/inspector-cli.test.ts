import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { BIN, REPO } from "../../helpers/atomizer-jobs.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";
import { makeStudy } from "../fixtures/study-fixture.ts";

const run = promisify(execFile);
let base: string;
let queue: QueuePaths;
let study: string;

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  study = await makeStudy(base);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** The independent MCP Inspector CLI, driving `node bin/atomizer-jobs.js mcp` over stdio. */
async function inspector(args: string[]): Promise<Record<string, unknown>> {
  const server = [
    process.execPath,
    BIN,
    "mcp",
    "--queue",
    queue.root,
    "--allow",
    base,
    "--agent",
    "inspector-agent",
  ];
  const { stdout } = await run(
    "npx",
    ["--no-install", "@modelcontextprotocol/inspector", "--cli", ...server, ...args],
    {
      cwd: REPO,
      timeout: 60_000,
    },
  );
  return JSON.parse(stdout.slice(stdout.indexOf("{")));
}

test("the MCP Inspector CLI lists the tools and round-trips submit and status", async () => {
  const listed = (await inspector(["--method", "tools/list"])) as { tools: { name: string }[] };
  expect(listed.tools.map((tool) => tool.name)).toEqual(
    expect.arrayContaining(["submit_job", "job_status", "list_jobs", "wait_for_job", "cancel_job"]),
  );
  const submitted = (await inspector([
    "--method",
    "tools/call",
    "--tool-name",
    "submit_job",
    "--tool-arg",
    `study_dir=${study}`,
    "name=inspector round trip",
    "project=starspec-m1-wfe",
  ])) as { structuredContent: { job_id: string; created_by: string } };
  expect(submitted.structuredContent.created_by).toBe("inspector-agent");
  const jobId = submitted.structuredContent.job_id;
  expect(jobId).toMatch(/-inspector-round-trip$/);
  const status = (await inspector([
    "--method",
    "tools/call",
    "--tool-name",
    "job_status",
    "--tool-arg",
    `job_id=${jobId}`,
  ])) as {
    structuredContent: { job: { state: string; job_id: string } };
  };
  expect(status.structuredContent.job).toMatchObject({ job_id: jobId, state: "submitted" });
});
