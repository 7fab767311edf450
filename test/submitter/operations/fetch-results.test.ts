// fetch_results reads each result file once: the copy into the work folder hashes it against the
// results manifest, and nothing verified it before (before: a full verification first, then the copy).
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { fetchResults } from "../../../submitter/operations/fetch-results.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { acceptJob, finishJob, makeQueue } from "../fixtures/runner-fixture.ts";
import { makeStudy } from "../fixtures/study-fixture.ts";

const hashes = vi.hoisted(() => ({ sha256: 0 }));
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return {
    ...actual,
    createHash: (algorithm: string, ...rest: []) => {
      // File hashes only (protocol/file-hash.ts), not the staging folders' short host tags.
      if (algorithm === "sha256" && new Error().stack?.includes("file-hash.ts")) hashes.sha256++;
      return actual.createHash(algorithm, ...rest);
    },
  };
});

let base: string;
let queue: QueuePaths;
let study: string;

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  study = await makeStudy(base);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

test("fetch_results hashes every result file once (and job.json as it is copied), and writes its receipt", async () => {
  const ctx = await createServerContext({ queueRoot: queue.root, allow: [base], withIndex: false });
  try {
    const { job_id: jobId } = await submitJob(
      ctx,
      { study_dir: study, name: "fetch once", project: "hashing" },
      "atlas",
    );
    await acceptJob(queue, jobId);
    const finished = await finishJob(queue, jobId, "completed", {
      files: { "3_results/summary.json": "{}", "3_results/trials.csv": "trial,value\n0,1.5\n" },
      log: "done\n",
    });
    const results = finished.results?.files ?? [];
    expect(results.length).toBe(3);
    hashes.sha256 = 0;
    const { summary } = await fetchResults(ctx, { job_id: jobId, max_images: 0 }, "atlas");
    expect(summary).toMatchObject({ complete: true, files_total: 3, files_copied: 3 });
    expect(hashes.sha256).toBe(results.length + 1);
    const receipt = JSON.parse(await readFile(join(queue.fetchedDir, `${jobId}.json`), "utf8"));
    expect(receipt).toMatchObject({ job_id: jobId, fetched_by: "atlas", status: "completed" });
  } finally {
    await ctx.close();
  }
});
