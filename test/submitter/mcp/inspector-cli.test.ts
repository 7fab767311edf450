import { expect } from "vitest";
import { runInspector, serverFlags } from "../fixtures/mcp-clients.ts";
import { stdioTest as test } from "../fixtures/stdio-session.ts";

test("the MCP Inspector CLI lists the tools and round-trips submit and status", async ({
  queue,
  base,
  study,
}) => {
  // The independent MCP Inspector CLI, driving `node bin/atomizer-jobs.js mcp` over stdio.
  const inspector = (args: string[]) =>
    runInspector(serverFlags(queue, base, { agent: "inspector-agent" }), args);
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
