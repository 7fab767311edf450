// archive_job reads each file once: the copy into the archive hashes it and checks it against its
// manifest, and nothing hashes it again (before: a full verification first, and another of the copy).
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, expect, test, vi } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { readJob, verifyManifest } from "../../../protocol/index.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { archiveJob } from "../../../submitter/operations/archive-job.ts";
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

beforeEach(() => {
  hashes.sha256 = 0;
});

test.each([
  { catalog: "disk", withIndex: false },
  { catalog: "watched", withIndex: true },
])(
  "archive_job ($catalog catalog) hashes every file once, and the archive verifies",
  async ({ withIndex }) => {
    const ctx: ServerContext = await createServerContext({ queueRoot: queue.root, allow: [base], withIndex });
    try {
      const { job_id: jobId } = await submitJob(
        ctx,
        { study_dir: study, name: `hash once ${withIndex}`, project: "hashing" },
        "atlas",
      );
      await acceptJob(queue, jobId);
      const finished = await finishJob(queue, jobId, "completed", {
        files: { "3_results/summary.json": "{}", "3_results/plots/a.png": "png" },
        log: "done\n",
      });
      const submitted = (await readJob(join(queue.outbox, jobId))).files ?? [];
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
