// archive_job reads each file once: the copy into the archive hashes it and checks it against its
// manifest, and nothing hashes it again (before: a full verification first, and another of the copy).
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, expect, test, vi } from "vitest";
import { readJob, verifyManifest } from "../../../protocol/index.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { archiveJob } from "../../../submitter/operations/archive-job.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { acceptJob, finishJob } from "../fixtures/runner-fixture.ts";
import { makeQueueWithStudy } from "../fixtures/study-fixture.ts";

const hashes = vi.hoisted(() => ({ sha256: 0 }));
vi.mock("node:crypto", async (original) =>
  (await import("../fixtures/hash-count.ts")).countingCrypto(await original(), hashes),
);

let setup: Awaited<ReturnType<typeof makeQueueWithStudy>>;
beforeAll(async () => {
  setup = await makeQueueWithStudy();
});
afterAll(() => rm(setup.base, { recursive: true, force: true }));

beforeEach(() => {
  hashes.sha256 = 0;
});

test.each([
  { catalog: "disk", withIndex: false },
  { catalog: "watched", withIndex: true },
])(
  "archive_job ($catalog catalog) hashes every file once, and the archive verifies",
  async ({ withIndex }) => {
    const ctx: ServerContext = await createServerContext({
      queueRoot: setup.queue.root,
      allow: [setup.base],
      withIndex,
    });
    try {
      const { job_id: jobId } = await submitJob(
        ctx,
        { study_dir: setup.study, name: `hash once ${withIndex}`, project: "hashing" },
        "atlas",
      );
      await acceptJob(setup.queue, jobId);
      const finished = await finishJob(setup.queue, jobId, "completed", {
        files: { "3_results/summary.json": "{}", "3_results/plots/a.png": "png" },
        log: "done\n",
      });
      const submitted = (await readJob(join(setup.queue.outbox, jobId))).files ?? [];
      const results = finished.results?.files ?? [];
      expect(results.length).toBe(3);
      hashes.sha256 = 0;
      const archived = await archiveJob(ctx, { job_id: jobId });
      expect(archived).toMatchObject({ job_id: jobId, final_status: "completed", already_archived: false });
      expect(hashes.sha256).toBe(submitted.length + results.length);
      // The archive holds what both manifests list, byte for byte.
      expect((await verifyManifest(archived.archive_dir, results)).complete).toBe(true);
      expect((await verifyManifest(archived.archive_dir, submitted)).complete).toBe(true);
    } finally {
      await ctx.close();
    }
  },
);
