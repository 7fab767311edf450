// fetch_results reads each result file once: the copy into the work folder hashes it against the
// results manifest, and nothing verified it before (before: a full verification first, then the copy).
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { expect, test, vi } from "vitest";
import { createServerContext } from "../../../submitter/context.ts";
import { fetchResults } from "../../../submitter/operations/fetch-results.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { acceptJob, finishJob } from "../fixtures/runner-fixture.ts";
import { makeQueueWithStudy } from "../fixtures/study-fixture.ts";

const hashes = vi.hoisted(() => ({ sha256: 0 }));
vi.mock("node:crypto", async (original) =>
  (await import("../fixtures/hash-count.ts")).countingCrypto(await original(), hashes),
);

test("fetch_results hashes every result file once, writes the job.json it checked, and writes its receipt", async () => {
  const setup = await makeQueueWithStudy();
  const ctx = await createServerContext({
    queueRoot: setup.queue.root,
    allow: [setup.base],
    withIndex: false,
  });
  try {
    const { job_id: jobId } = await submitJob(
      ctx,
      { study_dir: setup.study, name: "fetch once", project: "hashing" },
      "atlas",
    );
    await acceptJob(setup.queue, jobId);
    const finished = await finishJob(setup.queue, jobId, "completed", {
      files: { "3_results/summary.json": "{}", "3_results/trials.csv": "trial,value\n0,1.5\n" },
      log: "done\n",
    });
    const results = finished.results?.files ?? [];
    expect(results.length).toBe(3);
    hashes.sha256 = 0;
    const { summary } = await fetchResults(ctx, { job_id: jobId, max_images: 0 }, "atlas");
    expect(summary).toMatchObject({ complete: true, files_total: 3, files_copied: 3 });
    // job.json is not read a second time: the local copy is the record whose manifest was used.
    expect(hashes.sha256).toBe(results.length);
    const local = JSON.parse(await readFile(join(summary.work_dir, "job.json"), "utf8"));
    expect(local).toMatchObject({ job_id: jobId, status: "completed", results: finished.results });
    const receipt = JSON.parse(await readFile(join(setup.queue.fetchedDir, `${jobId}.json`), "utf8"));
    expect(receipt).toMatchObject({ job_id: jobId, fetched_by: "atlas", status: "completed" });
  } finally {
    await ctx.close();
    await rm(setup.base, { recursive: true, force: true });
  }
});
