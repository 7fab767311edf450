// Hostile corpus, submitting side, .staging/: leftovers of killed submits (once 37 folders, 1.7 GB,
// surviving restarts) go only when provably abandoned, at server start and after a failed submission.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { createServerContext } from "../../../submitter/context.ts";
import {
  cleanStaleStaging,
  hostTag,
  processStartMs,
  STALE_STAGING_MS,
  stagingName,
} from "../../../submitter/jobs/staging-dirs.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { REPO } from "../../helpers/atomizer-jobs.ts";
import { useStudyQueue } from "./helpers/study-queue.ts";

const setup = useStudyQueue();

/** A pid that provably is not alive: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await once(child, "exit");
  return child.pid as number;
}

function nameWith(kind: "submit" | "archive" | "trash", host: string, pid: number, startMs: number): string {
  return `${kind}-${host}-${pid}-${startMs.toString(36)}-${"ab12".repeat(3)}`;
}

describe(".staging/ leftovers: only provably abandoned folders go", () => {
  const OLD = (Date.now() - STALE_STAGING_MS - 3600_000) / 1000;
  type Case = [
    string,
    (dead: number) => string,
    { old?: boolean; link?: boolean; file?: boolean },
    "removed" | "kept",
  ];
  const cases: Case[] = [
    ["a dead process's submit on this host", (dead) => nameWith("submit", hostTag(), dead, 1), {}, "removed"],
    ["a dead process's archive copy", (dead) => nameWith("archive", hostTag(), dead, 1), {}, "removed"],
    [
      "a dead process's trash (half-removed outbox entry)",
      (dead) => nameWith("trash", hostTag(), dead, 1),
      {},
      "removed",
    ],
    [
      "a live process's submit (the test runner's parent)",
      () => nameWith("submit", hostTag(), process.ppid, 1),
      {},
      "kept",
    ],
    ["this process's own folder", () => stagingName("submit", "mine"), {}, "kept"],
    [
      "an earlier process with this pid (a container restart)",
      () => nameWith("submit", hostTag(), process.pid, processStartMs() - 3600_000),
      {},
      "removed",
    ],
    [
      "another host's folder with a dead-looking pid, fresh",
      (dead) => nameWith("submit", "0badc0de", dead, 1),
      {},
      "kept",
    ],
    [
      "another host's folder, over a day old",
      (dead) => nameWith("submit", "0badc0de", dead, 1),
      { old: true },
      "removed",
    ],
    ["a folder named before owners were recorded, fresh", () => "submit-mirror-wfe-0123456789ab", {}, "kept"],
    [
      "a folder named before owners were recorded, over a day old",
      () => "submit-mirror-wfe-0123456789ab",
      { old: true },
      "removed",
    ],
    [
      "a live process's folder over a day old (no submit takes a day)",
      () => nameWith("submit", hostTag(), process.ppid, 1),
      { old: true },
      "removed",
    ],
    [
      "a stray file of a dead process",
      (dead) => nameWith("submit", hostTag(), dead, 1),
      { file: true },
      "removed",
    ],
    [
      "a link of a dead process's name: the link goes, its target stays",
      (dead) => nameWith("submit", hostTag(), dead, 1),
      { link: true },
      "removed",
    ],
  ];

  test.each(cases)("%s: %s", async (_label, name, shape, expected) => {
    const staging = await mkdtemp(join(setup.base, "staging-"));
    const target = join(setup.base, `target-${Math.random().toString(36).slice(2)}`);
    await mkdir(target);
    await writeFile(join(target, "keep.txt"), "keep");
    const entry = join(staging, name(await deadPid()));
    if (shape.link) await symlink(target, entry);
    else if (shape.file) await writeFile(entry, "x");
    else {
      await mkdir(join(entry, "1_setup"), { recursive: true });
      await writeFile(join(entry, "1_setup", "model.prt"), "partial copy");
    }
    if (shape.old) await utimes(entry, OLD, OLD);
    const result = await cleanStaleStaging(staging);
    expect(await readdir(staging)).toEqual(
      expected === "removed" ? [] : [join(entry).slice(staging.length + 1)],
    );
    expect(result[expected]).toHaveLength(1);
    expect(await readFile(join(target, "keep.txt"), "utf8")).toBe("keep");
  });

  test("a missing .staging/ is no error", async () => {
    expect(await cleanStaleStaging(join(setup.base, "no-such-staging"))).toEqual({ removed: [], kept: [] });
  });

  test("folders of a SIGKILLed submitter are removed when the next server starts", async () => {
    // A real process makes real staging folders through the server's own code, then is killed.
    const script = `
      import { makeStagingDir } from "./submitter/jobs/staging-dirs.ts";
      for (let i = 0; i < 3; i++) await makeStagingDir(${JSON.stringify(setup.ctx.stagingDir)}, "submit", "killed");
      process.kill(process.pid, "SIGKILL");`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: REPO,
      stdio: "ignore",
    });
    await once(child, "exit");
    const left = (await readdir(setup.ctx.stagingDir)).filter((name) => name.includes(`-${child.pid}-`));
    expect(left).toHaveLength(3);
    const live = join(setup.ctx.stagingDir, nameWith("submit", hostTag(), process.ppid, 1));
    await mkdir(live);
    const next = await createServerContext({
      queueRoot: setup.queue.root,
      allow: [setup.allowed],
      withIndex: false,
    });
    await next.close();
    const after = await readdir(setup.ctx.stagingDir);
    expect(after.filter((name) => name.includes(`-${child.pid}-`))).toEqual([]);
    expect(after).toContain(join(live).slice(setup.ctx.stagingDir.length + 1));
    await rm(live, { recursive: true });
  });

  test("a failed submission cleans abandoned staging (a full disk needs the room)", async () => {
    const leftover = join(setup.ctx.stagingDir, nameWith("submit", hostTag(), await deadPid(), 1));
    await mkdir(leftover, { recursive: true });
    const dir = await setup.study();
    const args = { study_dir: dir, name: "idempotent study", project: "hostile", idempotency_key: "k-1" };
    await submitJob(setup.ctx, args, "tester");
    await writeFile(join(dir, "1_setup", "model.prt"), "changed\n");
    await expect(submitJob(setup.ctx, args, "tester")).rejects.toThrow(/already used/);
    expect(await readdir(setup.ctx.stagingDir)).toEqual([]);
  });
});
