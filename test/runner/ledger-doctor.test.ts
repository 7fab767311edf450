import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { LEDGER_FILE, LEGACY_LEDGER_FILE, openLedger } from "../../runner/ledger.ts";
import { ledgerCheck } from "../../runner/ledger-doctor.ts";
import { sampleJob } from "../helpers/sample-job.ts";

const JOB = sampleJob("job-20260210-143022-starspec-wfe", { status: "queued", seq: 1 });
const AT = "2026-02-10T14:31:00.000Z";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "atomizer-ledger-doctor-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test.each([
  {
    name: "a new state folder",
    setup: async () => {},
    level: "ok",
    message: /no ledger\.db .* yet: the first start/,
  },
  {
    name: "a ledger.jsonl of an earlier runner",
    setup: () => writeFile(path.join(dir, LEGACY_LEDGER_FILE), `${"x".repeat(2 * 1024 ** 2)}\n`),
    level: "ok",
    message: /ledger\.jsonl of an earlier runner \(2\.0 MB\) is taken in at the next start/,
  },
  {
    name: "a ledger with jobs",
    setup: async () => {
      const ledger = await openLedger(dir);
      await ledger.append([
        { event: "accepted", job_id: JOB.job_id, at: AT, job: JOB },
        { event: "archived", job_id: "job-20260210-150000-other", at: AT },
      ]);
      await ledger.close();
    },
    level: "ok",
    message: /ledger\.db: 1 live, 0 finished, 0 cleaned, 1 foreign jobs; 2 records$/,
  },
  {
    name: "a ledger that is not a database",
    setup: () => writeFile(path.join(dir, LEDGER_FILE), "not a database at all\n".repeat(100)),
    level: "fail",
    message: /cannot be read \(.*\): the runner will not start on it/,
  },
])("$name: $level", async ({ setup, level, message }) => {
  await setup();
  const check = await ledgerCheck(dir);
  expect(check).toMatchObject({ name: "ledger", level });
  expect(check.message).toMatch(message);
});
