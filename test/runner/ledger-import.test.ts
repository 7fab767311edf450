import { appendFile, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import type { LedgerRecord } from "../../runner/ledger.ts";
import { IMPORTED_SUFFIX, LEGACY_LEDGER_FILE, openLedger, parseLedger } from "../../runner/ledger.ts";
import { sampleJob } from "../helpers/sample-job.ts";
import { readLedgerRecords } from "./helpers/ledger-file.ts";

// A ledger.jsonl of an earlier runner is taken into the SQLite ledger once, by its own rules.

const JOB = sampleJob("job-20260210-143022-starspec-wfe", { args: ["--start"], status: "queued", seq: 1 });
const AT = "2026-02-10T14:31:00.000Z";
const OTHER = "job-20260210-150000-other";
const line = (record: unknown) => `${JSON.stringify(record)}\n`;
const ACCEPTED = line({ event: "accepted", job_id: JOB.job_id, at: AT, job: JOB });

let dir: string;
let legacy: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "atomizer-ledger-import-"));
  legacy = path.join(dir, LEGACY_LEDGER_FILE);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test.each([
  { name: "torn last line", tail: '{"event":"started","job_id":"job-2026' },
  { name: "torn last line that is valid JSON but not a record", tail: '{"event":"started"}' },
])("a $name is dropped silently, and the file is kept under a new name", async ({ tail }) => {
  await writeFile(legacy, `${ACCEPTED}${tail}`);
  const seen: string[] = [];
  const ledger = await openLedger(dir, (m) => seen.push(m));
  expect(seen).toEqual([]);
  expect(ledger.fresh).toBe(false);
  expect(ledger.get(JOB.job_id)?.started_at).toBeUndefined();
  await ledger.append({ event: "started", job_id: JOB.job_id, at: AT });
  await ledger.close();
  const again = await openLedger(dir);
  expect(again.get(JOB.job_id)?.started_at).toBe(AT);
  await again.close();
  expect(await readFile(`${legacy}${IMPORTED_SUFFIX}`, "utf8")).toBe(`${ACCEPTED}${tail}`);
  expect(await readdir(dir)).not.toContain(LEGACY_LEDGER_FILE);
});

const DAMAGED = [
  `{"event":"accepted","job_id":"${JOB.job_id}","at":"${AT}","job":{"job_id":"${JOB.job_id}"`,
  "garbage",
  JSON.stringify({ event: "cleaned", job_id: OTHER, at: AT }),
  JSON.stringify({
    event: "refused",
    job_id: OTHER,
    at: AT,
    status: "failed",
    job: { ...JOB, job_id: OTHER },
  }),
  "",
].join("\n");

test("streamed or parsed whole, a file gives the same entries and the same warnings", async () => {
  const parsedWarnings: string[] = [];
  const parsed = parseLedger(DAMAGED, (m) => parsedWarnings.push(m));
  await writeFile(legacy, DAMAGED);
  const importWarnings: string[] = [];
  const ledger = await openLedger(dir, (m) => importWarnings.push(m));
  expect(importWarnings).toEqual(parsedWarnings);
  expect(parsedWarnings).toEqual([
    "ledger line 1 is not JSON; skipped",
    "ledger line 2 is not JSON; skipped",
    `${JOB.job_id} is named only by the damaged ledger line 1: it is never started from here`,
  ]);
  for (const [jobId, entry] of parsed) expect(ledger.get(jobId)).toEqual(entry);
  expect(ledger.get(JOB.job_id)).toMatchObject({ foreign: true });
  expect(ledger.live()).toEqual([]);
  await ledger.close();
});

test("a ledger of thousands of jobs is taken in once, in chunks of the file, with every job known", async () => {
  const ids = Array.from({ length: 3000 }, (_, i) => `job-20260210-143022-study-${i}`);
  const records: string[] = [];
  for (const id of ids) {
    records.push(line({ event: "accepted", job_id: id, at: AT, job: { ...JOB, job_id: id } }));
    records.push(line({ event: "finished", job_id: id, at: AT, status: "completed" }));
  }
  await writeFile(legacy, records.join(""));
  const notes: string[] = [];
  const ledger = await openLedger(dir, undefined, (m) => notes.push(m));
  expect(notes).toEqual([expect.stringContaining(`6000 records of ${legacy}${IMPORTED_SUFFIX} taken into`)]);
  expect(ledger.unknownAmong(ids)).toEqual([]);
  expect(ledger.finishedNotAmong([]).length).toBe(3000);
  await ledger.close();
  // A second start has nothing to take in.
  const again = await openLedger(dir);
  await again.close();
  expect(readLedgerRecords(dir)).toHaveLength(6000);
});

test("a crash after the import and before the rename: the same file is not taken in twice", async () => {
  await writeFile(legacy, ACCEPTED);
  await (await openLedger(dir)).close();
  // The rename keeps the file's identity (inode, size, times): as if the rename had never happened.
  await rename(`${legacy}${IMPORTED_SUFFIX}`, legacy);
  await (await openLedger(dir)).close();
  expect(readLedgerRecords(dir)).toHaveLength(1);
  expect(await readdir(dir)).toContain(`${LEGACY_LEDGER_FILE}${IMPORTED_SUFFIX}`);
});

test("a ledger.jsonl beside the database continues its log, and never reopens a finished job", async () => {
  const first = await openLedger(dir);
  await first.append([
    { event: "accepted", job_id: JOB.job_id, at: AT, job: JOB },
    { event: "finished", job_id: JOB.job_id, at: AT, status: "completed" },
    { event: "accepted", job_id: OTHER, at: AT, job: { ...JOB, job_id: OTHER } },
  ]);
  await first.close();
  // An older runner ran on this state folder since: its file says what happened after the database.
  const later: LedgerRecord[] = [
    { event: "accepted", job_id: JOB.job_id, at: AT, job: JOB },
    { event: "started", job_id: OTHER, at: AT, supervised: true },
  ];
  await appendFile(legacy, later.map(line).join(""));
  const ledger = await openLedger(dir);
  expect(ledger.fresh).toBe(false);
  expect(ledger.get(JOB.job_id)?.status).toBe("completed");
  expect(ledger.get(OTHER)).toMatchObject({ started_at: AT, supervised: true });
  await ledger.close();
  expect(await readdir(dir)).toContain(`${LEGACY_LEDGER_FILE}${IMPORTED_SUFFIX}`);
  // A second one is kept too, under the next free name.
  await appendFile(legacy, line({ event: "cleaned", job_id: JOB.job_id, at: AT }));
  await (await openLedger(dir)).close();
  expect(await readdir(dir)).toContain(`${LEGACY_LEDGER_FILE}${IMPORTED_SUFFIX}-2`);
  expect(readLedgerRecords(dir).map((record) => record.event)).toEqual([
    "accepted",
    "finished",
    "accepted",
    "accepted",
    "started",
    "cleaned",
  ]);
});

test.each([
  { name: "empty", content: "", fresh: true },
  { name: "only blank lines", content: "\n\n", fresh: true },
  { name: "only a torn line", content: '{"event":"fini', fresh: false },
])("a ledger.jsonl that is $name: fresh is $fresh, as before", async ({ content, fresh }) => {
  await writeFile(legacy, content);
  const ledger = await openLedger(dir);
  expect(ledger.fresh).toBe(fresh);
  await ledger.close();
});
