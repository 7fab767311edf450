import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FetchReceipt, QueuePaths } from "../../../protocol/index.ts";
import { findOptunaPython, requireUnderCi } from "../../helpers/python.ts";
import { call, callOk, connectStdio, textOf } from "../fixtures/mcp-clients.ts";
import {
  acceptJob,
  appendLog,
  deliverWithheld,
  finishJob,
  makeQueue,
  reportProgress,
  runExampleStudy,
  startJob,
  writeHeartbeat,
} from "../fixtures/runner-fixture.ts";
import { makeStudy } from "../fixtures/study-fixture.ts";

const python = findOptunaPython();
const hasPython = requireUnderCi(python !== undefined, "python3 with optuna and matplotlib");

let base: string;
let queue: QueuePaths;
let study: string;
let client: Client;

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  study = await makeStudy(base);
  ({ client } = await connectStdio([
    "--queue",
    queue.root,
    "--allow",
    base,
    "--role",
    "admin",
    "--agent",
    "study-builder",
  ]));
});

afterAll(async () => {
  await client?.close();
  await rm(base, { recursive: true, force: true });
});

async function submit(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const result = await callOk<{ job_id: string }>(client, "submit_job", {
    study_dir: study,
    name,
    project: "starspec-m1-wfe",
    args: ["--trials", "8", "--trial-delay", "0"],
    ...extra,
  });
  return result.job_id;
}

describe("mcp over stdio", () => {
  test("lists every tool with output schemas and annotations, and the job resource template", async () => {
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

  test("a job's whole life: submit, queued, running with progress, log, results syncing, fetch, archive", async () => {
    const jobId = await submit("mirror wfe lifecycle");
    expect(jobId).toMatch(/^job-\d{8}-\d{6}-mirror-wfe-lifecycle$/);
    const outboxJob = JSON.parse(await readFile(join(queue.outbox, jobId, "job.json"), "utf8"));
    expect(outboxJob).toMatchObject({ status: "submitted", created_by: "study-builder", schema_version: 1 });
    expect(outboxJob.files.map((file: { path: string }) => file.path)).toContain("README.md");
    expect(await readdir(join(base, "queue", ".staging"))).toEqual([]);

    await writeHeartbeat(queue, { queued: [] });
    let status = await callOk<{ job: Record<string, unknown> }>(client, "job_status", { job_id: jobId });
    expect(status.job).toMatchObject({ state: "submitted", seq: 0, runner_seen_recently: true });

    // wait_for_job returns as soon as the runner accepts the job.
    const waiting = callOk<{ changed: boolean; job: { state: string; seq: number } }>(
      client,
      "wait_for_job",
      {
        job_id: jobId,
        seq: 0,
        timeout_s: 40,
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await acceptJob(queue, jobId);
    await writeHeartbeat(queue, { queued: ["job-20200101-000000-other-study", jobId] });
    const woke = await waiting;
    expect(woke.changed).toBe(true);
    expect(woke.job.state).toBe("queued");
    status = await callOk(client, "job_status", { job_id: jobId });
    expect(status.job).toMatchObject({ state: "queued", position: 2, runner_host: "nx-workstation" });

    await startJob(queue, jobId);
    await appendLog(queue, jobId, "trial 1/8 value=17.9\n");
    await reportProgress(queue, jobId, {
      trials_planned: 8,
      trials_complete: 1,
      best_value: 17.9,
      best_params: { rib_pattern: "square" },
    });
    status = await callOk(client, "job_status", { job_id: jobId });
    expect(status.job).toMatchObject({
      state: "running",
      stale: false,
      progress: { trials_complete: 1, trials_planned: 8 },
    });
    const statusText = textOf(await call(client, "job_status", { job_id: jobId }));
    expect(statusText).toContain("1/8 trials done");
    expect(statusText).toContain("next: wait_for_job");

    const log = await callOk<{ text: string; next_offset: number; eof: boolean }>(client, "tail_log", {
      job_id: jobId,
    });
    expect(log.text).toBe("trial 1/8 value=17.9\n");
    await appendLog(queue, jobId, "trial 2/8 value=15.1\n");
    const more = await callOk<{ text: string }>(client, "tail_log", {
      job_id: jobId,
      offset: log.next_offset,
    });
    expect(more.text).toBe("trial 2/8 value=15.1\n");

    // Not finished: fetch_results and archive_job refuse with what to do.
    const early = await call(client, "fetch_results", { job_id: jobId });
    expect(early.isError).toBe(true);
    expect(textOf(early)).toMatch(/running.*\n?.*next: wait_for_job/s);
    const earlyArchive = await call(client, "archive_job", { job_id: jobId });
    expect(earlyArchive.isError).toBe(true);
    expect(textOf(earlyArchive)).toContain("only completed, failed or cancelled jobs are archived");

    if (!hasPython || !python) return;
    const results = await mkdtemp(join(tmpdir(), "atomizer-optuna-"));
    await runExampleStudy(python, study, results, 8);
    await finishJob(queue, jobId, "completed", {
      resultsDir: results,
      log: "finished\n",
      withhold: ["3_results/study.db"],
    });
    status = await callOk(client, "job_status", { job_id: jobId });
    expect(status.job).toMatchObject({
      state: "completed",
      results: { complete: false, missing: ["3_results/study.db"] },
    });
    expect((status.job.results as { summary: string }).summary).toMatch(/^\d+ of \d+ result files synced/);
    const partial = await callOk<{ complete: boolean; missing: string[] }>(client, "fetch_results", {
      job_id: jobId,
    });
    expect(partial).toMatchObject({ complete: false, missing: ["3_results/study.db"] });
    // Only a complete fetch acknowledges the hand-off to the post-processing agent.
    expect(await readdir(queue.fetchedDir).catch(() => [])).not.toContain(`${jobId}.json`);

    await deliverWithheld(queue, jobId, { "3_results/study.db": await readFile(join(results, "study.db")) });
    status = await callOk(client, "job_status", { job_id: jobId });
    expect(status.job).toMatchObject({ state: "completed", results: { complete: true } });

    const fetched = await call(client, "fetch_results", { job_id: jobId });
    expect(fetched.isError).toBeFalsy();
    const summary = fetched.structuredContent as {
      complete: boolean;
      work_dir: string;
      study: { trials: Record<string, number>; best: { value: number; params: Record<string, unknown> }[] }[];
      csv: { path: string; rows: number; columns: string[] }[];
      log_tail: string[];
    };
    expect(summary.complete).toBe(true);
    expect(summary.study[0]?.trials.complete).toBe(8);
    expect(["triangular", "hexagonal", "square"]).toContain(summary.study[0]?.best[0]?.params.rib_pattern);
    expect(summary.csv[0]).toMatchObject({ path: "3_results/trials.csv", rows: 8 });
    expect(summary.log_tail).toEqual(["finished"]);
    expect(summary.work_dir.startsWith(join(base, "queue", ".work"))).toBe(true);
    expect(fetched.content.some((item) => item.type === "image" && item.mimeType === "image/png")).toBe(true);
    const receipt = JSON.parse(
      await readFile(join(queue.fetchedDir, `${jobId}.json`), "utf8"),
    ) as FetchReceipt;
    expect(receipt).toMatchObject({ job_id: jobId, status: "completed" });
    expect(receipt.fetched_by.length).toBeGreaterThan(0);

    const archived = await callOk<{ archive_dir: string }>(client, "archive_job", { job_id: jobId });
    expect(archived.archive_dir).toMatch(new RegExp(`${jobId}-\\d{8}T\\d{6}Z$`));
    expect(await readdir(queue.outbox)).not.toContain(jobId);
    expect(await readdir(join(archived.archive_dir, "3_results"))).toContain("study.db");
    // The inbox is the runner's: archiving left it alone.
    expect(await readdir(join(queue.inbox, jobId))).toContain("job.json");
    status = await callOk(client, "job_status", { job_id: jobId });
    expect(status.job).toMatchObject({ state: "archived", final_status: "completed" });
    const again = await callOk<{ already_archived: boolean }>(client, "archive_job", { job_id: jobId });
    expect(again.already_archived).toBe(true);
  });

  test("a failed job shows its error and log tail; a cancel request is idempotent", async () => {
    const failing = await submit("mirror mesh failure");
    await acceptJob(queue, failing);
    await startJob(queue, failing);
    await finishJob(queue, failing, "failed", { log: "Traceback\nValueError: bad mesh\n" });
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
    const request = JSON.parse(await readFile(join(queue.cancelDir, `${queued}.json`), "utf8"));
    expect(request).toMatchObject({ job_id: queued, requested_by: "study-builder", reason: "wrong mesh" });
  });

  test("bad input gets an isError result that says what to do, and the server keeps serving", async () => {
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

  test("unknown ids get near-match suggestions", async () => {
    const jobId = await submit("starspec primary mirror");
    const typo = jobId.replace(/-\d{6}-/, "-000000-");
    const result = await call(client, "job_status", { job_id: typo });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(`did you mean ${jobId}`);
  });

  test("list_jobs filters, pages and reports only changes after a cursor", async () => {
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
    expect(stale.note).toContain("earlier server run");
  });

  test("job://{job_id} reads the job's state and notifies subscribers when it changes", async () => {
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
    await acceptJob(queue, jobId);
    expect(await updated).toBe(`job://${jobId}`);
  });

  test("runner_status lists runners and flags silent and cleanly stopped ones", async () => {
    const anHourAgo = new Date(Date.now() - 3600_000).toISOString();
    await writeHeartbeat(queue, { host: "old-box", last_seen: anHourAgo, interval_s: 10 });
    await writeHeartbeat(queue, {
      host: "spare-box",
      last_seen: anHourAgo,
      interval_s: 10,
      stopped_at: anHourAgo,
    });
    const result = await callOk<{
      runners: { host: string; silent: boolean; stopped_at?: string }[];
      active: number;
      silent: number;
      stopped: number;
    }>(client, "runner_status");
    expect(result.runners.find((runner) => runner.host === "old-box")?.silent).toBe(true);
    expect(result.runners.find((runner) => runner.host === "nx-workstation")?.silent).toBe(false);
    expect(result.runners.find((runner) => runner.host === "spare-box")).toMatchObject({
      silent: false,
      stopped_at: anHourAgo,
    });
    expect(result).toMatchObject({ active: 1, silent: 1, stopped: 1 });
    const text = await call(client, "runner_status");
    expect(textOf(text)).toContain(`spare-box: STOPPED at ${anHourAgo}`);
    await mkdir(queue.runnersDir, { recursive: true });
  });
});
