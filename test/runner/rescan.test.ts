// The rescan lists outbox/ only when its stamp moved; entries not taken yet are looked at regardless.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { dirStamp, makeJobId, publishDirectory, RACY_STAMP_MS, sameStamp } from "../../protocol/index.ts";
import { listIfChanged } from "../../runner/rescan.ts";
import { buildJobFiles, inboxJob, submittedJob, waitForStatus } from "./helpers/make-job.ts";
import { runnerTest, testConfig } from "./helpers/runner-harness.ts";

const settle = () => new Promise((resolve) => setTimeout(resolve, RACY_STAMP_MS + 300));

test("a folder is listed again only when its stamp moved, or when forced", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "atomizer-rescan-"));
  try {
    await writeFile(path.join(dir, "a"), "");
    const racy = await listIfChanged(dir, undefined, false);
    expect(racy?.names).toEqual(["a"]);
    // Listed in the same moment as its last change: not trusted next time.
    expect(racy?.stamp).toBeUndefined();
    expect(await listIfChanged(dir, racy?.stamp, false)).toBeDefined();
    await settle();
    const settled = await listIfChanged(dir, undefined, false);
    expect(settled?.stamp).toBeDefined();
    expect(await listIfChanged(dir, settled?.stamp, false)).toBeUndefined();
    expect((await listIfChanged(dir, settled?.stamp, true))?.names).toEqual(["a"]);
    await writeFile(path.join(dir, "b"), "");
    expect((await listIfChanged(dir, settled?.stamp, false))?.names.sort()).toEqual(["a", "b"]);
    // A missing folder is an empty listing, never "unchanged".
    expect((await listIfChanged(path.join(dir, "gone"), settled?.stamp, false))?.names).toEqual([]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

runnerTest(
  "a job still waiting for a file is looked at on each rescan, though outbox/ itself is unchanged",
  async ({ queue, startRunner }) => {
    // No watch of the job's folder: only the rescan can see its last file land.
    await startRunner(testConfig(queue, "python3", { arrivalWatchLimit: 0 }));
    const name = "late model";
    const jobId = makeJobId(name, new Date());
    const staging = path.join(queue.base, "staging", jobId);
    const model = "model bytes";
    const spec = { name, fixture: "digest.py", args: ["1_setup/m1.prt"], files: { "1_setup/m1.prt": model } };
    const manifest = await buildJobFiles(staging, spec);
    await writeFile(
      path.join(staging, "job.json"),
      JSON.stringify(submittedJob(jobId, spec, manifest, new Date())),
    );
    await rm(path.join(staging, "1_setup"), { recursive: true });
    await publishDirectory(staging, path.join(queue.paths.outbox, jobId));
    // Long enough for outbox/'s stamp to be trusted, so rescans stop listing it.
    await settle();
    expect(await inboxJob(queue, jobId)).toBeUndefined();
    const before = await dirStamp(queue.paths.outbox);
    await mkdir(path.join(queue.paths.outbox, jobId, "1_setup"));
    await writeFile(path.join(queue.paths.outbox, jobId, "1_setup", "m1.prt"), model);
    expect(await waitForStatus(queue, jobId, ["completed", "failed"])).toMatchObject({ status: "completed" });
    // The premise: nothing in outbox/ itself changed, only inside the job's folder.
    expect(sameStamp(before, await dirStamp(queue.paths.outbox))).toBe(true);
  },
);
