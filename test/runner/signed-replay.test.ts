// A job that ran and was archived never runs again, even when a copy of it is placed back into outbox/
// and the runner's state folder is new (a reinstall): its folder in archive/ is the queue's proof. The
// archive is listed once per new job id, not on every rescan.
import { cp, mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { describe, expect, test as plainTest } from "vitest";
import type { Job } from "../../protocol/index.ts";
import { archiveDirName, writeJsonAtomic } from "../../protocol/index.ts";
import type { RunnerContext } from "../../runner/context.ts";
import { asSubmitted } from "../../runner/inbox-writer.ts";
import { archivedBefore } from "../../runner/intake-guards.ts";
import { runnerPaths } from "../../runner/paths.ts";
import { makeQueue, readLines, waitForStatus } from "./helpers/make-job.ts";
import { runnerTest as test, testConfig } from "./helpers/runner-harness.ts";
import { makeKey, submitSignedJob } from "./helpers/signed-job.ts";

describe("a job archived after it ran", () => {
  test("placed back into outbox/ does not run again on a runner with a new state folder", async ({
    queue,
    startRunner,
  }) => {
    const key = await makeKey(queue, "submitter");
    const first = await startRunner(testConfig(queue, "python3", { trustKeys: [key.publicPath] }));
    const marker = path.join(queue.scratch, "ran");
    const id = await submitSignedJob(
      queue,
      { name: "once", fixture: "counted_sleep.py", args: [marker, "0"] },
      key.key,
    );
    await waitForStatus(queue, id, ["completed"]);
    const record = JSON.parse(await readFile(path.join(queue.paths.inbox, id, "job.json"), "utf8")) as Job;
    await first.stop();
    // Archived as the submitting side does it: outbox/ and inbox/ folders moved into archive/<id>-<stamp>/.
    const archived = path.join(queue.paths.archive, archiveDirName(id, new Date()));
    await mkdir(archived, { recursive: true });
    await cp(path.join(queue.paths.outbox, id), path.join(archived, "outbox"), { recursive: true });
    await rm(path.join(queue.paths.outbox, id), { recursive: true });
    await rm(path.join(queue.paths.inbox, id), { recursive: true });
    const second = await startRunner(
      testConfig(queue, "python3", {
        trustKeys: [key.publicPath],
        stateDir: path.join(queue.base, "state2"),
        workDir: path.join(queue.base, "work2"),
      }),
    );
    // The intruder: the archived record turned back into a submitted job (runner fields are not signed).
    const replay = path.join(queue.base, "replay");
    await cp(path.join(archived, "outbox"), replay, { recursive: true });
    await writeJsonAtomic(path.join(replay, "job.json"), asSubmitted(record));
    await cp(replay, path.join(queue.paths.outbox, id), { recursive: true });
    await second.waitForLog(id, "already archived: it never runs twice");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await readLines(marker)).toEqual([id]);
    expect(second.lines.filter((line) => line.includes("already archived")).length).toBe(1);
  });
});

plainTest("the archive is listed once per job id, not on every look", async () => {
  const queue = await makeQueue();
  try {
    const ctx = {
      paths: runnerPaths(queue.paths.root, queue.work, queue.state),
      archiveChecked: new Set<string>(),
    } satisfies Pick<RunnerContext, "paths" | "archiveChecked">;
    const id = "job-20261201-120000-waits";
    expect(await archivedBefore(ctx, id)).toBe(false);
    await mkdir(path.join(queue.paths.archive, archiveDirName(id, new Date())), { recursive: true });
    // Listed again it would be found: the second look does not list the archive.
    expect(await archivedBefore(ctx, id)).toBe(false);
    expect(await archivedBefore({ ...ctx, archiveChecked: new Set() }, id)).toBe(true);
  } finally {
    await queue.cleanup();
  }
});
