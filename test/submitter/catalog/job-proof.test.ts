// A row's proof: the stats of each job.json it was read from. It must move whenever a file is replaced
// (every job.json is written by rename), appear or vanish, and stay put while nothing is touched.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { writeFileAtomic } from "../../../protocol/index.ts";
import { jobProof } from "../../../submitter/catalog/job-proof.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";

const ID = "job-20260520-120000-proof";
const ARCHIVE = `${ID}-20260521T120000Z`;

let base: string;
let queue: QueuePaths;

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
});

afterAll(() => rm(base, { recursive: true, force: true }));

const proof = () => jobProof(queue, ID, [ARCHIVE]);

test("a job with no files proves absence of each, one part per job.json", async () => {
  expect(proof()).toBe("-|-|-");
});

test.each<[string, (q: QueuePaths) => Promise<void>]>([
  ["the submission appears", (q) => writeAt(join(q.outbox, ID), "{}")],
  ["the runner's copy appears", (q) => writeAt(join(q.inbox, ID), "{}")],
  ["the runner rewrites its copy by rename, same size", (q) => writeAt(join(q.inbox, ID), "{}")],
  ["the runner's copy grows", (q) => writeAt(join(q.inbox, ID), '{"status":"failed"}')],
  ["an archived copy appears", (q) => writeAt(join(q.archive, ARCHIVE), "{}")],
  ["the submission goes", (q) => rm(join(q.outbox, ID), { recursive: true })],
])("the proof moves when %s", async (_what, change) => {
  const before = proof();
  expect(proof()).toBe(before);
  await change(queue);
  expect(proof()).not.toBe(before);
});

async function writeAt(dir: string, text: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, "job.json"), text);
}

test("a job.json that is not a file yet still gives a stable proof", async () => {
  const dir = join(queue.outbox, "job-20260520-120000-odd");
  await mkdir(join(dir, "job.json"), { recursive: true });
  await writeFile(join(dir, "note"), "x");
  const first = jobProof(queue, "job-20260520-120000-odd", []);
  expect(first).not.toContain("?");
  expect(jobProof(queue, "job-20260520-120000-odd", [])).toBe(first);
});
