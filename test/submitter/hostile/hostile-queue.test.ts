// Hostile corpus, server side: a queue full of what a broken or hostile peer (or Syncthing syncing
// links as links) can leave in outbox/ and inbox/, served by the real MCP server over stdio to a real
// client, and read by the real CLI. The server must start, answer every tool without hanging, never
// read through a link, and say what is wrong and what to do.
import { mkdir, open, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Job, QueuePaths } from "../../../protocol/index.ts";
import { hashFile, writeJob } from "../../../protocol/index.ts";
import { runAtomizerJobs } from "../../helpers/atomizer-jobs.ts";
import {
  jobIdFor,
  jobTextWith,
  mkfifo,
  nested,
  POSIX,
  validJob,
  withBytes,
} from "../../helpers/hostile-fs.ts";
import { call, connectStdio, textOf } from "../fixtures/mcp-clients.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";

const SECRET = "root:x:0:0:secret-outside-the-queue\n";
const ids = {
  fifoJob: jobIdFor("fifo-job"),
  badUtf8: jobIdFor("bad-utf-eight"),
  deep: jobIdFor("deep-nesting"),
  huge: jobIdFor("huge-job-file"),
  linkedLog: jobIdFor("linked-log"),
  linkedInbox: jobIdFor("linked-inbox"),
  linkedResult: jobIdFor("linked-result"),
  linkedResultsDir: jobIdFor("linked-results-dir"),
  longPath: jobIdFor("long-result-path"),
  fifoInbox: jobIdFor("fifo-inbox"),
  fifoLog: jobIdFor("fifo-log"),
};

let base: string;
let queue: QueuePaths;
let outside: string;
let client: Client;

const at = "2026-02-10T14:31:00Z";
const runner = { host: "nx-workstation", version: "0.1.0", heartbeat_s: 30 };

async function outboxJob(id: string): Promise<void> {
  await mkdir(join(queue.outbox, id));
  await writeJob(join(queue.outbox, id), validJob(id) as Job);
}

async function inboxJob(id: string, patch: Record<string, unknown>): Promise<void> {
  await mkdir(join(queue.inbox, id), { recursive: true });
  await writeJob(join(queue.inbox, id), validJob(id, { queued_at: at, runner, seq: 3, ...patch }) as Job);
}

async function completed(id: string, files: { path: string; size: number; sha256: string }[]) {
  await inboxJob(id, {
    status: "completed",
    started_at: at,
    finished_at: at,
    exit_code: 0,
    results: { files, published_at: at },
  });
}

async function rawOutboxJob(id: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(join(queue.outbox, id));
  await writeFile(join(queue.outbox, id, "job.json"), bytes);
}

beforeAll(async () => {
  if (!POSIX) return;
  ({ base, queue } = await makeQueue());
  outside = join(base, "outside");
  await mkdir(outside);
  await writeFile(join(outside, "secret"), SECRET);
  const secret = { size: SECRET.length, sha256: (await hashFile(join(outside, "secret"))).sha256 };

  await mkdir(join(queue.outbox, ids.fifoJob));
  mkfifo(join(queue.outbox, ids.fifoJob, "job.json"));
  await rawOutboxJob(ids.badUtf8, withBytes(ids.badUtf8, [0xc0, 0xaf]).bytes);
  await rawOutboxJob(ids.deep, jobTextWith(ids.deep, "x_extra", nested(20_000, "array")));
  await mkdir(join(queue.outbox, ids.huge));
  const huge = await open(join(queue.outbox, ids.huge, "job.json"), "w");
  await huge.truncate(200 * 1024 * 1024);
  await huge.close();

  await outboxJob(ids.linkedLog);
  await inboxJob(ids.linkedLog, {
    status: "running",
    started_at: at,
    heartbeat_at: new Date().toISOString(),
  });
  await symlink(join(outside, "secret"), join(queue.inbox, ids.linkedLog, "stdout.log"));
  await mkdir(queue.cancelDir, { recursive: true });
  mkfifo(join(queue.cancelDir, `${ids.linkedLog}.json`));

  await outboxJob(ids.linkedInbox);
  await writeFile(
    join(outside, "job.json"),
    JSON.stringify(validJob(ids.linkedInbox, { status: "completed" })),
  );
  await writeFile(join(outside, "stdout.log"), SECRET);
  await symlink(outside, join(queue.inbox, ids.linkedInbox));

  await outboxJob(ids.linkedResult);
  await completed(ids.linkedResult, [{ path: "3_results/data.csv", ...secret }]);
  await mkdir(join(queue.inbox, ids.linkedResult, "3_results"));
  await symlink(join(outside, "secret"), join(queue.inbox, ids.linkedResult, "3_results", "data.csv"));

  await outboxJob(ids.linkedResultsDir);
  await completed(ids.linkedResultsDir, [{ path: "3_results/secret", ...secret }]);
  await symlink(outside, join(queue.inbox, ids.linkedResultsDir, "3_results"));

  await outboxJob(ids.longPath);
  await completed(ids.longPath, [
    { path: `3_results/${"a".repeat(5000)}.csv`, size: 1, sha256: "0".repeat(64) },
  ]);

  await outboxJob(ids.fifoInbox);
  await mkdir(join(queue.inbox, ids.fifoInbox));
  mkfifo(join(queue.inbox, ids.fifoInbox, "job.json"));

  await outboxJob(ids.fifoLog);
  await inboxJob(ids.fifoLog, {
    status: "failed",
    started_at: at,
    finished_at: at,
    exit_code: 1,
    error: { kind: "exit_code", message: "exited 1" },
  });
  mkfifo(join(queue.inbox, ids.fifoLog, "stdout.log"));

  await mkdir(queue.runnersDir, { recursive: true });
  mkfifo(join(queue.runnersDir, "evil-host.json"));

  ({ client } = await connectStdio(["--queue", queue.root, "--allow", base, "--role", "admin"]));
}, 30_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  if (base) await rm(base, { recursive: true, force: true });
});

describe.skipIf(!POSIX)("the MCP server over a hostile queue", () => {
  test("starts (a FIFO job.json in outbox/ no longer hangs the scan) and lists every job", async () => {
    const result = await call(client, "list_jobs", { limit: 100 });
    expect(result.isError).toBeFalsy();
    const rows = (result.structuredContent as { jobs: { job_id: string; problem?: string }[] }).jobs;
    expect(rows.map((row) => row.job_id)).toEqual(expect.arrayContaining(Object.values(ids)));
  });

  test.each([
    ["fifoJob", /a FIFO \(named pipe\)/],
    ["badUtf8", /not valid UTF-8 \(first bad byte at offset \d+\)/],
    ["deep", /more than 64 deep/],
    ["huge", /is 209715200 bytes; a queue JSON file may be at most/],
    ["fifoInbox", /a FIFO \(named pipe\)/],
    ["linkedInbox", /job folder .* is a symbolic link/],
  ] as const)("list_jobs shows why %s is unusable", async (key, problem) => {
    const result = await call(client, "list_jobs", { limit: 100 });
    const rows = (result.structuredContent as { jobs: { job_id: string; problem?: string }[] }).jobs;
    expect(rows.find((row) => row.job_id === ids[key])?.problem).toMatch(problem);
  });

  test.each([
    ["fifoJob", /FIFO/],
    ["badUtf8", /not valid UTF-8/],
    ["deep", /flatten/],
    ["huge", /list fewer files/],
    ["fifoInbox", /FIFO/],
    ["linkedInbox", /symbolic link/],
  ] as const)("job_status of %s answers and names the problem", async (key, problem) => {
    const result = await call(client, "job_status", { job_id: ids[key] });
    expect(textOf(result)).toMatch(problem);
    expect(textOf(result)).not.toContain("secret-outside");
  });

  test.each([
    ["linkedLog", /stdout\.log is a symbolic link/],
    ["linkedInbox", /reached through a linked folder/],
    ["fifoLog", /a FIFO \(named pipe\)/],
  ] as const)(
    "tail_log of %s refuses the link or FIFO and never shows what it points to",
    async (key, what) => {
      const result = await call(client, "tail_log", { job_id: ids[key] });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(what);
      expect(textOf(result)).toMatch(/error \(unreadable\)/);
      expect(textOf(result)).toContain("next:");
      expect(textOf(result)).not.toContain("secret-outside");
    },
  );

  test("job_status of a failed job whose stdout.log is a FIFO says why no log tail", async () => {
    const result = await call(client, "job_status", { job_id: ids.fifoLog });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain("log not shown");
  });

  test("job_status of a running job with a FIFO cancel request still answers", async () => {
    const result = await call(client, "job_status", { job_id: ids.linkedLog });
    expect(result.isError).toBeFalsy();
    expect((result.structuredContent as { job: { state: string } }).job.state).toBe("running");
  });

  test.each([
    ["linkedResult", /links or special files/],
    ["linkedResultsDir", /not a regular file|links or special files/],
    ["longPath", /invalid path.*bytes.*MAX_PATH_BYTES/s],
  ] as const)("job_status of %s: the results are not counted as synced", async (key, summary) => {
    const result = await call(client, "job_status", { job_id: ids[key] });
    expect(result.isError).toBeFalsy();
    const view = (result.structuredContent as { job: { results?: { complete: boolean; summary: string } } })
      .job;
    expect(view.results?.complete).toBe(false);
    expect(view.results?.summary).toMatch(summary);
  });

  test.each([
    ["linkedResult", /symbolic link/],
    ["linkedResultsDir", /reached through a linked folder/],
    ["longPath", /at most 4096 bytes/],
  ] as const)("fetch_results of %s refuses the file and copies nothing from outside", async (key, reason) => {
    const result = await call(client, "fetch_results", { job_id: ids[key] });
    expect(result.isError).toBeFalsy();
    const summary = result.structuredContent as {
      complete: boolean;
      refused: string[];
      work_dir: string;
      next: string;
    };
    expect(summary.complete).toBe(false);
    expect(summary.refused.join("\n")).toMatch(reason);
    expect(summary.next).toContain("republish them as regular files");
    const copied = await readdir(summary.work_dir, { recursive: true });
    for (const name of copied) {
      const text = await readFile(join(summary.work_dir, name), "utf8").catch(() => "");
      expect(text).not.toContain("secret-outside");
    }
  });

  test.each(["linkedResult", "linkedResultsDir"] as const)(
    "archive_job of %s is refused and the outbox entry is kept",
    async (key) => {
      const result = await call(client, "archive_job", { job_id: ids[key] });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(
        /links? or special files|symbolic link|not a regular file|linked folder/,
      );
      expect(await readdir(join(queue.outbox, ids[key]))).toContain("job.json");
      expect((await readdir(queue.archive)).filter((name) => name.startsWith(ids[key]))).toEqual([]);
    },
  );

  test("runner_status lists a FIFO heartbeat as unreadable instead of hanging", async () => {
    const result = await call(client, "runner_status");
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toMatch(/evil-host: unreadable heartbeat: .*FIFO/);
  });
});

describe.skipIf(!POSIX)("the CLI over the same queue", () => {
  test.each([
    ["list", () => ["list", "--queue", queue.root], /fifo-job/],
    ["status of a FIFO job.json", () => ["status", ids.fifoJob, "--queue", queue.root], /FIFO/],
    ["status of a bad-UTF-8 job.json", () => ["status", ids.badUtf8, "--queue", queue.root], /UTF-8/],
    ["log through a link", () => ["log", ids.linkedLog, "--queue", queue.root], /symbolic link/],
  ])(
    "%s finishes and says what is wrong",
    async (_label, args, expected) => {
      const run = await runAtomizerJobs(args(), { timeoutMs: 15_000 });
      expect(run.code).not.toBeNull();
      expect(`${run.stdout}${run.stderr}`).toMatch(expected);
      expect(`${run.stdout}${run.stderr}`).not.toContain("secret-outside");
    },
    20_000,
  );
});
