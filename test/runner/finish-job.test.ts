import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { Job, JobStatus } from "../../protocol/index.ts";
import { initQueue, JobSchema, readJob } from "../../protocol/index.ts";
import type { FinishContext, JobEnd } from "../../runner/finish-job.ts";
import { finishJob, internalFailure, refuseJob } from "../../runner/finish-job.ts";
import { createInboxWriter, firstView } from "../../runner/inbox-writer.ts";
import type { Ledger } from "../../runner/ledger.ts";
import { openLedger } from "../../runner/ledger.ts";
import { createLogger } from "../../runner/log.ts";
import { runnerPaths } from "../../runner/paths.ts";
import { validJob } from "../helpers/hostile-fs.ts";
import { requireUnderCi } from "../helpers/python.ts";
import { readLedgerEntry, readLedgerLines } from "./helpers/ledger-file.ts";
import { canMount, fill, mountSmallDisk, unfill, unmountAll } from "./helpers/small-disk.ts";

const AT = "2026-02-10T15:00:00.000Z";
const RUNNER = { host: "test-host", version: "0.0.0", heartbeat_s: 10 };
const SUBMITTED: Job = JobSchema.parse(validJob("job-20260210-143022-starspec-wfe"));
const ID = SUBMITTED.job_id;
const RESULTS = { files: [], published_at: AT };
const TAIL = ["last line"];

let base: string;
let mounts: string[];
let ledgers: Ledger[];
let lines: string[];

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), "atomizer-finish-"));
  mounts = [];
  ledgers = [];
  lines = [];
});
afterEach(async () => {
  for (const ledger of ledgers) await ledger.close();
  unmountAll(mounts);
  await rm(base, { recursive: true, force: true });
});

/** A runner's two records (inbox/ and the ledger) over real folders, and its log in `lines`. */
async function openRecords(queueRoot = path.join(base, "queue")) {
  const paths = runnerPaths(
    (await initQueue(queueRoot)).root,
    path.join(base, "work"),
    path.join(base, "state"),
  );
  const now = () => new Date(AT);
  await mkdir(paths.stateDir, { recursive: true });
  const ledger = await openLedger(paths.stateDir);
  ledgers.push(ledger);
  const ctx: FinishContext = {
    inbox: createInboxWriter(paths, now),
    ledger,
    log: createLogger({ write: (line: string) => lines.push(line.trimEnd()) }, now),
    now,
    runnerInfo: RUNNER,
  };
  return { ctx, paths, stateDir: paths.stateDir };
}

/** openRecords with the job accepted and brought to `status`. */
async function acceptedJob(status: JobStatus, queueRoot?: string) {
  const records = await openRecords(queueRoot);
  const { ctx } = records;
  const now = ctx.now;
  const ledger = ctx.ledger;
  const queued = firstView(SUBMITTED, "queued", { runner: RUNNER }, now());
  await ledger.append({ event: "accepted", job_id: ID, at: AT, job: queued });
  await ctx.inbox.publishNew(queued);
  if (status !== "queued") {
    await ledger.append({ event: "started", job_id: ID, at: AT, supervised: true });
    await ctx.inbox.transition(ID, "running", { runner: RUNNER, heartbeat_at: AT });
  }
  if (status === "completed") await ctx.inbox.transition(ID, "completed", { exit_code: 0 });
  return records;
}

/** The ledger's finished records as on disk, read by a connection of their own. */
async function finishedRecords(stateDir: string): Promise<string[]> {
  return readLedgerLines(stateDir).filter((line) => line.includes('"event":"finished"'));
}

const error = (kind: string, message: string) => ({ kind, message, log_tail: TAIL });

interface Row {
  name: string;
  from: JobStatus;
  end: JobEnd;
  job: Partial<Job>;
  log: string[];
}

/** A run that ended with an error: job.json carries it, the log line says `<status>: <kind>: <message>`. */
function runError(
  name: string,
  status: "failed" | "cancelled",
  exitCode: number | null,
  kind: string,
  message: string,
): Row {
  const fields = { exit_code: exitCode, error: error(kind, message) };
  return {
    name,
    from: "running",
    end: { status, fields, detail: `${kind}: ${message}` },
    job: { status, ...fields, finished_at: AT, seq: 3 },
    log: [`${AT} ${ID} ${status}: ${kind}: ${message}`],
  };
}

test.each<Row>([
  {
    name: "a run that completed",
    from: "running",
    end: { status: "completed", fields: { exit_code: 0, results: RESULTS }, detail: "0 result files" },
    job: { status: "completed", exit_code: 0, results: RESULTS, finished_at: AT, seq: 3 },
    log: [`${AT} ${ID} completed: 0 result files`],
  },
  runError("a run that failed with an exit code", "failed", 3, "exit_code", "the script exited with code 3"),
  runError("a run cancelled while it ran", "cancelled", null, "cancelled", "cancelled at the request of ops"),
  runError("a run stopped at its time limit", "failed", null, "timeout", "ran longer than 60 s"),
  runError("a run lost to a restart", "failed", null, "runner_restart", "the supervisor is gone"),
  {
    name: "a job cancelled while queued",
    from: "queued",
    end: {
      status: "cancelled",
      fields: { error: { kind: "cancelled", message: "cancel requested (while queued)" } },
      detail: "while queued",
    },
    job: {
      status: "cancelled",
      error: { kind: "cancelled", message: "cancel requested (while queued)" },
      seq: 2,
    },
    log: [`${AT} ${ID} cancelled: while queued`],
  },
  {
    name: "a run that completed before its record said running (adopted)",
    from: "queued",
    end: { status: "completed", fields: { exit_code: 0 }, detail: "0 result files" },
    job: { status: "completed", started_at: AT, finished_at: AT, runner: RUNNER, seq: 3 },
    log: [`${AT} ${ID} completed: 0 result files`],
  },
  {
    name: "an internal failure (the caller logged why)",
    from: "running",
    end: internalFailure("its work copy is gone; resubmit the job"),
    job: {
      status: "failed",
      error: { kind: "internal", message: "its work copy is gone; resubmit the job" },
    },
    log: [],
  },
  {
    name: "an end published before a crash, not yet ledgered: the published status is recorded",
    from: "completed",
    end: { status: "failed", fields: { exit_code: 9 } },
    job: { status: "completed", exit_code: 0, seq: 3 },
    log: [],
  },
])("$name: job.json, then one ledger record, then the log", async ({ from, end, job, log }) => {
  const { ctx, paths, stateDir } = await acceptedJob(from);
  expect(await finishJob(ctx, ID, end)).toBe(true);
  const published = await readJob(paths.inboxJob(ID));
  expect(published).toMatchObject(job);
  expect(ctx.inbox.current(ID)).toEqual(published);
  expect(ctx.ledger.get(ID)?.status).toBe(published.status);
  expect(await finishedRecords(stateDir)).toHaveLength(1);
  expect(lines).toEqual(log);
});

test("a job finished twice is recorded once: the second end changes neither record", async () => {
  const { ctx, paths, stateDir } = await acceptedJob("running");
  await finishJob(ctx, ID, { status: "completed", fields: { exit_code: 0 }, detail: "first" });
  const first = await readJob(paths.inboxJob(ID));
  expect(await finishJob(ctx, ID, internalFailure("a late second end"))).toBe(true);
  expect(await readJob(paths.inboxJob(ID))).toEqual(first);
  expect(await finishedRecords(stateDir)).toHaveLength(1);
  expect(readLedgerEntry(stateDir, ID)?.status).toBe("completed");
});

test("a job without a published record is an internal error, and nothing is ledgered", async () => {
  const { ctx, stateDir } = await acceptedJob("running");
  ctx.inbox.forget(ID);
  await expect(finishJob(ctx, ID, { status: "completed" })).rejects.toThrow(/no published job.json/);
  expect(await finishedRecords(stateDir)).toEqual([]);
});

const haveMount = requireUnderCi(canMount(), "root with tmpfs mounts (for the full-disk case)");

describe.runIf(haveMount)("an inbox disk that is full", () => {
  test("the end waits for job.json: no ledger record until it is written, then exactly one", async () => {
    const disk = await mountSmallDisk(path.join(base, "queue-disk"), "1m", mounts);
    const { ctx, paths, stateDir } = await acceptedJob("running", path.join(disk, "queue"));
    await fill(disk);
    const end: JobEnd = { status: "completed", fields: { exit_code: 0 }, detail: "0 result files" };
    await expect(finishJob(ctx, ID, end)).rejects.toMatchObject({ code: "ENOSPC" });
    expect(await finishJob(ctx, ID, end)).toBe(false);
    expect((await readJob(paths.inboxJob(ID))).status).toBe("running");
    expect(ctx.ledger.get(ID)?.status).toBeUndefined();
    expect(lines).toEqual([]);
    await unfill(disk);
    expect(await finishJob(ctx, ID, end)).toBe(true);
    expect(await readJob(paths.inboxJob(ID))).toMatchObject({ status: "completed", exit_code: 0 });
    expect(await finishedRecords(stateDir)).toHaveLength(1);
    expect(lines).toEqual([`${AT} ${ID} completed: 0 result files`]);
  });
});

describe("a job that was never accepted", () => {
  test.each<{ name: string; status: "failed" | "cancelled"; error: { kind: string; message: string } }>([
    { name: "rejected", status: "failed", error: { kind: "invalid_job", message: "job.json is not valid" } },
    {
      name: "cancelled before it started",
      status: "cancelled",
      error: { kind: "cancelled", message: "cancel requested (before it started)" },
    },
  ])("$name: the ledger carries the job.json that is then published", async ({ status, error }) => {
    const { ctx, paths, stateDir } = await openRecords();
    const detail = `${error.kind}: ${error.message}`;
    const final = await refuseJob(ctx, SUBMITTED, { status, fields: { error }, detail });
    expect(final).toMatchObject({ status, error, exit_code: null, runner: RUNNER, finished_at: AT, seq: 1 });
    expect(await readJob(paths.inboxJob(ID))).toEqual(final);
    expect(readLedgerEntry(stateDir, ID)).toMatchObject({ refused: true, status, job: final });
    expect(lines).toEqual([`${AT} ${ID} ${status}: ${detail}`]);
  });
});
