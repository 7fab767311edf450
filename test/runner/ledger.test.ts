import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import type { LedgerRecord } from "../../runner/ledger.ts";
import { LEDGER_FILE, openLedger, parseLedger } from "../../runner/ledger.ts";
import { sampleJob } from "../helpers/sample-job.ts";
import { readLedgerEntry, readLedgerRecords } from "./helpers/ledger-file.ts";

const JOB = sampleJob("job-20260210-143022-starspec-wfe", { args: ["--start"], status: "queued", seq: 1 });
const AT = "2026-02-10T14:31:00.000Z";
const idOf = (n: number) => `job-20260210-1430${String(n).padStart(2, "0")}-starspec-wfe`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "atomizer-ledger-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("records survive a reopen and build each job's history", async () => {
  const ledger = await openLedger(dir);
  await ledger.append({ event: "accepted", job_id: JOB.job_id, at: AT, job: JOB });
  await ledger.append({ event: "started", job_id: JOB.job_id, at: AT });
  await ledger.append({ event: "pid", job_id: JOB.job_id, at: AT, pid: 4242 });
  await ledger.close();
  const again = await openLedger(dir);
  expect(again.get(JOB.job_id)).toMatchObject({ accepted_at: AT, started_at: AT, pid: 4242, refused: false });
  expect(again.get(JOB.job_id)?.status).toBeUndefined();
  await again.append({ event: "finished", job_id: JOB.job_id, at: AT, status: "completed" });
  // Durable before close: another connection reads it from disk.
  expect(readLedgerEntry(dir, JOB.job_id)?.status).toBe("completed");
  await again.close();
  expect(readLedgerRecords(dir).map((record) => record.event)).toEqual([
    "accepted",
    "started",
    "pid",
    "finished",
  ]);
});

test("a bad line in the middle is reported and skipped, the rest still counts", () => {
  const seen: string[] = [];
  const text = [
    JSON.stringify({ event: "accepted", job_id: JOB.job_id, at: AT, job: JOB }),
    "garbage",
    JSON.stringify({
      event: "refused",
      job_id: "job-20260210-143023-other-study",
      at: AT,
      status: "failed",
      job: { ...JOB, job_id: "job-20260210-143023-other-study", status: "failed" },
    }),
    "",
  ].join("\n");
  const entries = parseLedger(text, (m) => seen.push(m));
  expect(seen).toEqual(["ledger line 2 is not JSON; skipped"]);
  expect(entries.get("job-20260210-143023-other-study")).toMatchObject({ refused: true, status: "failed" });
  expect(entries.size).toBe(2);
});

test("concurrent appends are serialized, none is lost", async () => {
  const ledger = await openLedger(dir);
  const ids = Array.from({ length: 20 }, (_, i) => idOf(i));
  await Promise.all(
    ids.map((id) => ledger.append({ event: "accepted", job_id: id, at: AT, job: { ...JOB, job_id: id } })),
  );
  await ledger.close();
  expect(new Set(readLedgerRecords(dir).map((record) => record.job_id)).size).toBe(20);
});

test("an append of several records is one transaction: a bad one leaves none of them", async () => {
  const ledger = await openLedger(dir);
  const bad = { event: "started", job_id: JOB.job_id, at: "not a time" } as unknown as LedgerRecord;
  await expect(
    ledger.append([{ event: "accepted", job_id: JOB.job_id, at: AT, job: JOB }, bad]),
  ).rejects.toThrow();
  expect(ledger.get(JOB.job_id)).toBeUndefined();
  await ledger.close();
  expect(readLedgerRecords(dir)).toEqual([]);
});

test("a run's later records: stopping keeps the reason, requeued takes the start back", async () => {
  const ledger = await openLedger(dir);
  expect(ledger.fresh).toBe(true);
  const reason = { kind: "cancelled" as const, message: "stop it" };
  await ledger.append([
    { event: "accepted", job_id: JOB.job_id, at: AT, job: JOB },
    { event: "started", job_id: JOB.job_id, at: AT, supervised: true },
    { event: "stopping", job_id: JOB.job_id, at: AT, reason },
  ]);
  expect(ledger.get(JOB.job_id)).toMatchObject({ started_at: AT, supervised: true, stop: reason });
  await ledger.append({ event: "requeued", job_id: JOB.job_id, at: AT, reason: "never launched" });
  await ledger.close();
  const again = await openLedger(dir);
  expect(again.fresh).toBe(false);
  const entry = again.get(JOB.job_id);
  expect(entry?.started_at).toBeUndefined();
  expect(entry?.stop).toBeUndefined();
  expect(entry?.requeues).toBe(1);
  await again.close();
});

test.each([
  {
    name: "a final status",
    record: { inbox_status: "failed", status: "failed" },
    want: { status: "failed" },
  },
  { name: "a live job it cannot adopt", record: { inbox_status: "running" }, want: { foreign: true } },
] as const)("imported from inbox/: $name is never started", ({ record, want }) => {
  const line = JSON.stringify({ event: "imported", job_id: JOB.job_id, at: AT, ...record });
  expect(parseLedger(`${line}\n`).get(JOB.job_id)).toMatchObject(want);
});

test("a damaged line in the middle resolves toward not running the job it names", () => {
  const warnings: string[] = [];
  const other = "job-20260210-150000-other";
  const text = [
    `{"event":"accepted","job_id":"${JOB.job_id}","at":"${AT}","job":{"job_id":"${JOB.job_id}"`,
    JSON.stringify({ event: "cleaned", job_id: other, at: AT }),
    "",
  ].join("\n");
  const entries = parseLedger(text, (message) => warnings.push(message));
  expect(entries.get(JOB.job_id)).toMatchObject({ foreign: true });
  expect(warnings.join("\n")).toContain(`${JOB.job_id} is named only by the damaged ledger line 1`);
});

test("each caller's query returns only the entries it needs, never the whole history", async () => {
  const ledger = await openLedger(dir);
  const job = (n: number) => ({ ...JOB, job_id: idOf(n) });
  const accepted = (n: number): LedgerRecord => ({ event: "accepted", job_id: idOf(n), at: AT, job: job(n) });
  await ledger.append([
    accepted(0),
    accepted(1),
    { event: "finished", job_id: idOf(1), at: AT, status: "completed" },
    accepted(2),
    { event: "finished", job_id: idOf(2), at: AT, status: "failed" },
    { event: "cleaned", job_id: idOf(2), at: AT },
    { event: "refused", job_id: idOf(3), at: AT, status: "failed", job: { ...job(3), status: "failed" } },
    { event: "imported", job_id: idOf(4), at: AT, inbox_status: "running" },
    { event: "archived", job_id: idOf(5), at: AT },
  ]);
  expect(ledger.live().map((entry) => entry.job_id)).toEqual([idOf(0)]);
  expect(ledger.refusedUncleaned().map((entry) => entry.job_id)).toEqual([idOf(3)]);
  expect(ledger.refusedUncleaned()[0]?.job?.status).toBe("failed");
  expect(ledger.unknownAmong([idOf(9), idOf(0), idOf(2), ".stfolder"])).toEqual([idOf(9), ".stfolder"]);
  expect(ledger.finishedNotAmong([idOf(1)])).toEqual([idOf(3)]);
  expect(ledger.finishedNotAmong([]).sort()).toEqual([idOf(1), idOf(3)]);
  // A finished run no longer carries its job: recovery never needs it again.
  expect(ledger.get(idOf(1))?.job).toBeUndefined();
  await ledger.close();
});

test("a record that would reopen a finished job leaves it finished", async () => {
  const ledger = await openLedger(dir);
  await ledger.append([
    { event: "accepted", job_id: JOB.job_id, at: AT, job: JOB },
    { event: "finished", job_id: JOB.job_id, at: AT, status: "completed" },
    { event: "accepted", job_id: JOB.job_id, at: AT, job: JOB },
  ]);
  expect(ledger.get(JOB.job_id)?.status).toBe("completed");
  expect(ledger.live()).toEqual([]);
  await ledger.close();
});

test.each([
  { name: "a file that is not a database", content: "this is not a ledger\n".repeat(200) },
  { name: "a database cut short", content: "SQLite format 3\0" },
])(
  "$name: the ledger does not open (the runner must not start on it) and is left as it was",
  async ({ content }) => {
    await writeFile(path.join(dir, LEDGER_FILE), content);
    await expect(openLedger(dir)).rejects.toThrow(/ledger .*ledger\.db cannot be read .*does not start/s);
    expect(await readFile(path.join(dir, LEDGER_FILE), "utf8")).toBe(content);
  },
);
