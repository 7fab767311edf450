import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { LEDGER_FILE, openLedger, parseLedger } from "../../runner/ledger.ts";
import { sampleJob } from "../helpers/sample-job.ts";

const JOB = sampleJob("job-20260210-143022-starspec-wfe", { args: ["--start"], status: "queued", seq: 1 });
const AT = "2026-02-10T14:31:00.000Z";

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
  await again.close();
  const text = await readFile(path.join(dir, LEDGER_FILE), "utf8");
  expect(text.trim().split("\n")).toHaveLength(4);
  expect(parseLedger(text).get(JOB.job_id)?.status).toBe("completed");
});

test.each([
  { name: "torn last line", tail: '{"event":"started","job_id":"job-2026', warnings: 0 },
  { name: "torn last line that is valid JSON but not a record", tail: '{"event":"started"}', warnings: 0 },
])("a $name is dropped, and the next append starts on its own line", async ({ tail, warnings }) => {
  const seen: string[] = [];
  await writeFile(
    path.join(dir, LEDGER_FILE),
    `${JSON.stringify({ event: "accepted", job_id: JOB.job_id, at: AT, job: JOB })}\n${tail}`,
  );
  const ledger = await openLedger(dir, (m) => seen.push(m));
  expect(seen).toHaveLength(warnings);
  expect(ledger.get(JOB.job_id)?.started_at).toBeUndefined();
  await ledger.append({ event: "started", job_id: JOB.job_id, at: AT });
  await ledger.close();
  const reread = parseLedger(await readFile(path.join(dir, LEDGER_FILE), "utf8"));
  expect(reread.get(JOB.job_id)?.started_at).toBe(AT);
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
  const ids = Array.from(
    { length: 20 },
    (_, i) => `job-20260210-1430${String(i).padStart(2, "0")}-starspec-wfe`,
  );
  await Promise.all(
    ids.map((id) => ledger.append({ event: "accepted", job_id: id, at: AT, job: { ...JOB, job_id: id } })),
  );
  await ledger.close();
  expect(parseLedger(await readFile(path.join(dir, LEDGER_FILE), "utf8")).size).toBe(20);
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
