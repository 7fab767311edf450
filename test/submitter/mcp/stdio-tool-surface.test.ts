// The stdio server's tool surface over a handful of jobs: the tools and job resource template it
// lists, a failed job and cancels, isError results that say what to do for bad input, near-match
// suggestions, list_jobs filters, pages and cursors, and job:// resources that notify subscribers.
// The tests share the file's queue and run in order: list_jobs pages over the jobs made before it.
// On both backends (fixtures/stdio-backends.ts): on NATS, `settle` waits for the carrying.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect } from "vitest";
import { call, callOk, textOf } from "../fixtures/mcp-clients.ts";
import { acceptJob, finishJob, startJob } from "../fixtures/runner-fixture.ts";
import { stdioBackends } from "../fixtures/stdio-backends.ts";

describe.each(stdioBackends())("mcp over stdio ($backend)", ({ test }) => {
  test("lists every tool with output schemas and annotations, and the job resource template", async ({
    client,
  }) => {
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(
      [
        "archive_job",
        "cancel_job",
        "fetch_results",
        "job_status",
        "list_jobs",
        "runner_status",
        "submit_job",
        "tail_log",
        "wait_for_job",
      ].sort(),
    );
    for (const tool of tools) {
      expect(tool.outputSchema, tool.name).toBeDefined();
      expect(tool.annotations?.readOnlyHint, tool.name).toBeTypeOf("boolean");
      expect(tool.annotations?.destructiveHint, tool.name).toBeTypeOf("boolean");
      expect(tool.annotations?.idempotentHint, tool.name).toBeTypeOf("boolean");
    }
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((template) => template.uriTemplate)).toContain("job://{job_id}");
  });

  test("a failed job shows its error and log tail; a cancel request is idempotent", async ({
    client,
    queue,
    mirror,
    settle,
    submit,
  }) => {
    const failing = await submit("mirror mesh failure");
    await settle();
    await acceptJob(queue, failing);
    await startJob(queue, failing);
    await finishJob(queue, failing, "failed", { log: "Traceback\nValueError: bad mesh\n" });
    await settle();
    const status = await callOk<{ job: Record<string, unknown> }>(client, "job_status", { job_id: failing });
    expect(status.job).toMatchObject({ state: "failed", error: { kind: "exit_code" } });
    expect(status.job.log_tail).toContain("ValueError: bad mesh");
    const refused = await call(client, "cancel_job", { job_id: failing });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain("already failed");

    const queued = await submit("mirror cancel before start");
    const first = await callOk<{ outcome: string; already_requested: boolean }>(client, "cancel_job", {
      job_id: queued,
      reason: "wrong mesh",
    });
    expect(first).toMatchObject({ outcome: "before_start", already_requested: false });
    const second = await callOk<{ already_requested: boolean }>(client, "cancel_job", { job_id: queued });
    expect(second.already_requested).toBe(true);
    const request = JSON.parse(await readFile(join(mirror.cancelDir, `${queued}.json`), "utf8"));
    expect(request).toMatchObject({ job_id: queued, requested_by: "study-builder", reason: "wrong mesh" });
  });

  test("bad input gets an isError result that says what to do, and the server keeps serving", async ({
    client,
    base,
    study,
  }) => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ["job_status", { job_id: "job-20990101-000000-no-such-study" }, /no job .*list_jobs/s],
      ["job_status", { job_id: "../../etc/passwd" }, /not a job id/],
      ["job_status", {}, /job_id/],
      ["wait_for_job", { job_id: "job-20990101-000000-no-such-study", timeout_s: 90 }, /45/],
      ["list_jobs", { changed_since: "garbage" }, /not a cursor/],
      [
        "submit_job",
        { study_dir: join(base, "missing"), name: "mirror wfe", project: "starspec" },
        /does not exist/,
      ],
      ["submit_job", { study_dir: study, name: "test", project: "starspec" }, /not descriptive/],
      [
        "submit_job",
        { study_dir: "/etc", name: "steal secrets", project: "starspec" },
        /outside the folders/,
      ],
      ["tail_log", { job_id: "job-20990101-000000-no-such-study" }, /no job/],
    ];
    for (const [tool, args, message] of cases) {
      const result = await call(client, tool, args);
      expect(result.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(result)).toMatch(message);
    }
    const { tools } = await client.listTools();
    expect(tools.length).toBe(9);
  });

  test("unknown ids get near-match suggestions", async ({ client, submit }) => {
    const jobId = await submit("starspec primary mirror");
    const typo = jobId.replace(/-\d{6}-/, "-000000-");
    const result = await call(client, "job_status", { job_id: typo });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(`did you mean ${jobId}`);
  });

  test("list_jobs filters, pages and reports only changes after a cursor", async ({
    client,
    queue,
    settle,
    submit,
  }) => {
    const first = await callOk<{ jobs: { job_id: string; state: string }[]; cursor: string; total: number }>(
      client,
      "list_jobs",
      { limit: 200 },
    );
    expect(first.total).toBeGreaterThan(0);
    const ids = first.jobs.map((job) => job.job_id);
    expect([...ids].sort().reverse()).toEqual(ids);
    const page = await callOk<{ jobs: unknown[]; next_offset?: number }>(client, "list_jobs", { limit: 1 });
    expect(page.jobs).toHaveLength(1);
    expect(page.next_offset).toBe(1);
    const failed = await callOk<{ jobs: { state: string }[] }>(client, "list_jobs", { status: ["failed"] });
    expect(failed.jobs.every((job) => job.state === "failed")).toBe(true);

    const unchanged = await callOk<{ jobs: unknown[]; full_listing: boolean }>(client, "list_jobs", {
      changed_since: first.cursor,
    });
    expect(unchanged).toMatchObject({ jobs: [], full_listing: false });
    const fresh = await submit("mirror cursor check");
    let changed = await callOk<{ jobs: { job_id: string }[] }>(client, "list_jobs", {
      changed_since: first.cursor,
    });
    expect(changed.jobs.map((job) => job.job_id)).toEqual([fresh]);
    // A runner's write shows up too (seen by the watcher).
    await settle();
    const cursor = (await callOk<{ cursor: string }>(client, "list_jobs", {})).cursor;
    await acceptJob(queue, fresh);
    for (let i = 0; i < 100; i++) {
      changed = await callOk(client, "list_jobs", { changed_since: cursor });
      if (changed.jobs.length > 0) break;
      await callOk(client, "wait_for_job", { job_id: fresh, seq: 0, timeout_s: 0.2 });
    }
    expect(changed.jobs.map((job) => job.job_id)).toEqual([fresh]);
    const stale = await callOk<{ full_listing: boolean; note?: string }>(client, "list_jobs", {
      changed_since: "c1.abcdef.3",
    });
    expect(stale.full_listing).toBe(true);
    expect(stale.note).toContain("another job index");
  });

  test("job://{job_id} reads the job's state and notifies subscribers when it changes", async ({
    client,
    queue,
    settle,
    submit,
  }) => {
    const jobId = await submit("mirror resource follow");
    const read = await client.readResource({ uri: `job://${jobId}` });
    const first = read.contents[0];
    expect(first && "text" in first ? JSON.parse(first.text) : undefined).toMatchObject({
      job_id: jobId,
      state: "submitted",
    });
    const updated = new Promise<string>((resolve) => {
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) =>
        resolve(notification.params.uri),
      );
    });
    await client.subscribeResource({ uri: `job://${jobId}` });
    await settle();
    await acceptJob(queue, jobId);
    expect(await updated).toBe(`job://${jobId}`);
  });
});
