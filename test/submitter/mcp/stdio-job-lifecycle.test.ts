// A job's whole life through one stdio server as a runner moves it: submitted, queued, running with
// progress and a log, results still syncing, fetched and archived; then runner_status, which counts
// on the runner that heartbeat meanwhile (the tests share the file's queue and run in order).
// Twice, with the same assertions: on the folder queue (the runner's files are the server's), and on
// NATS (the server started with --nats reads its mirror; the runner's files are in its local queue,
// carried by the real runner bridge; `settle` waits until NATS has carried a change both ways).
import { mkdir, mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect } from "vitest";
import type { FetchReceipt } from "../../../protocol/index.ts";
import { SCHEMA_VERSION } from "../../../protocol/index.ts";
import { findOptunaPython, requireUnderCi } from "../../helpers/python.ts";
import { call, callOk, textOf } from "../fixtures/mcp-clients.ts";
import {
  acceptJob,
  appendLog,
  deliverWithheld,
  finishJob,
  reportProgress,
  runExampleStudy,
  startJob,
  writeHeartbeat,
} from "../fixtures/runner-fixture.ts";
import { stdioBackends } from "../fixtures/stdio-backends.ts";

const python = findOptunaPython();
const hasPython = requireUnderCi(python !== undefined, "python3 with optuna and matplotlib");

describe.each(stdioBackends())("mcp over stdio ($backend)", ({ test, kind }) => {
  test("a job's whole life: submit, queued, running with progress, log, results syncing, fetch, archive", async ({
    client,
    queue,
    mirror,
    settle,
    study,
    submit,
  }) => {
    const jobId = await submit("mirror wfe lifecycle");
    expect(jobId).toMatch(/^job-\d{8}-\d{6}-mirror-wfe-lifecycle$/);
    await settle();
    const outboxJob = JSON.parse(await readFile(join(queue.outbox, jobId, "job.json"), "utf8"));
    expect(outboxJob).toMatchObject({
      status: "submitted",
      created_by: "study-builder",
      schema_version: SCHEMA_VERSION,
    });
    expect(outboxJob.files.map((file: { path: string }) => file.path)).toContain("README.md");
    expect(await readdir(join(mirror.root, ".staging"))).toEqual([]);

    await writeHeartbeat(queue, { queued: [] });
    await settle();
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
    await settle();
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
    await settle();
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
    await settle();
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
    if (kind === "folder") {
      // Syncthing may bring the final job.json before a result file it lists.
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
    } else {
      // Over NATS the runner's bridge puts a final record only once every result it lists is
      // uploaded: the submitting side never sees a finished job with results still on their way.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      status = await callOk(client, "job_status", { job_id: jobId });
      expect(status.job).toMatchObject({ state: "running" });
      const early = await call(client, "fetch_results", { job_id: jobId });
      expect(early.isError).toBe(true);
    }
    // Only a complete fetch acknowledges the hand-off to the post-processing agent.
    expect(await readdir(mirror.fetchedDir).catch(() => [])).not.toContain(`${jobId}.json`);

    await deliverWithheld(queue, jobId, {
      "3_results/study.db": await readFile(join(results, "study.db")),
    });
    await settle();
    status = await callOk(client, "job_status", { job_id: jobId });
    expect(status.job).toMatchObject({ state: "completed", results: { complete: true } });

    const fetched = await call(client, "fetch_results", { job_id: jobId });
    expect(fetched.isError).toBeFalsy();
    const summary = fetched.structuredContent as {
      complete: boolean;
      work_dir: string;
      study: {
        trials: Record<string, number>;
        best: { value: number; params: Record<string, unknown> }[];
      }[];
      csv: { path: string; rows: number; columns: string[] }[];
      log_tail: string[];
    };
    expect(summary.complete).toBe(true);
    expect(summary.study[0]?.trials.complete).toBe(8);
    expect(["triangular", "hexagonal", "square"]).toContain(summary.study[0]?.best[0]?.params.rib_pattern);
    expect(summary.csv[0]).toMatchObject({ path: "3_results/trials.csv", rows: 8 });
    expect(summary.log_tail).toEqual(["finished"]);
    expect(summary.work_dir.startsWith(join(mirror.root, ".work"))).toBe(true);
    expect(fetched.content.some((item) => item.type === "image" && item.mimeType === "image/png")).toBe(true);
    const receipt = JSON.parse(
      await readFile(join(mirror.fetchedDir, `${jobId}.json`), "utf8"),
    ) as FetchReceipt;
    expect(receipt).toMatchObject({ job_id: jobId, status: "completed" });
    expect(receipt.fetched_by.length).toBeGreaterThan(0);

    const archived = await callOk<{ archive_dir: string }>(client, "archive_job", { job_id: jobId });
    expect(archived.archive_dir).toMatch(new RegExp(`${jobId}-\\d{8}T\\d{6}Z$`));
    expect(await readdir(mirror.outbox)).not.toContain(jobId);
    await settle();
    expect(await readdir(queue.outbox)).not.toContain(jobId);
    expect(await readdir(join(archived.archive_dir, "3_results"))).toContain("study.db");
    // The inbox is the runner's: archiving left it alone.
    expect(await readdir(join(queue.inbox, jobId))).toContain("job.json");
    status = await callOk(client, "job_status", { job_id: jobId });
    expect(status.job).toMatchObject({ state: "archived", final_status: "completed" });
    const again = await callOk<{ already_archived: boolean }>(client, "archive_job", { job_id: jobId });
    expect(again.already_archived).toBe(true);
  });

  test("runner_status lists runners and flags silent and cleanly stopped ones", async ({
    client,
    queue,
    settle,
  }) => {
    const anHourAgo = new Date(Date.now() - 3600_000).toISOString();
    await writeHeartbeat(queue, { host: "old-box", last_seen: anHourAgo, interval_s: 10 });
    await writeHeartbeat(queue, {
      host: "spare-box",
      last_seen: anHourAgo,
      interval_s: 10,
      stopped_at: anHourAgo,
    });
    await settle();
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
    expect(result).toMatchObject({ active: 1, silent: 1, stopped: 1, backend: kind });
    const text = await call(client, "runner_status");
    expect(textOf(text)).toContain(`spare-box: STOPPED at ${anHourAgo}`);
    await mkdir(queue.runnersDir, { recursive: true });
  });
});
