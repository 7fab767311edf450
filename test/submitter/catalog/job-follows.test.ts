// JobFollows: one shallow fs.watch per followed folder of inbox/<id>/, result folders added as they
// appear, closed when the follow ends. Moved here with the notifier's job-watches.ts.
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FileEntry } from "../../../protocol/index.ts";
import { JobFollows, resultDirs } from "../../../submitter/catalog/job-follows.ts";

const ID = "job-20260210-143022-starspec-m1-wfe-sweep";
const HASH = "0".repeat(64);
const entries = (...paths: string[]): FileEntry[] => paths.map((path) => ({ path, size: 1, sha256: HASH }));
const MANIFEST = entries("stdout.log", "3_results/study.db", "3_results/plots/history.png");

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("resultDirs", () => {
  it.each([
    { paths: ["stdout.log"], dirs: [] },
    { paths: ["stdout.log", "3_results/study.db"], dirs: ["3_results"] },
    {
      paths: ["3_results/plots/history.png", "3_results/study.db", "3_results/plots/pareto.png"],
      dirs: ["3_results", "3_results/plots"],
    },
    { paths: ["a/b/c/d.txt"], dirs: ["a", "a/b", "a/b/c"] },
    { paths: ["../escape/x.txt", "C:/abs/y.txt", "3_results/ok.db"], dirs: ["3_results"] },
  ])("$paths -> $dirs", ({ paths, dirs }) => {
    expect(resultDirs(entries(...paths))).toEqual(dirs);
  });
});

describe("JobFollows", () => {
  let inbox: string;
  let jobDir: string;
  let follows: JobFollows;
  let changes = 0;

  beforeEach(async () => {
    inbox = await mkdtemp(join(tmpdir(), "atomizer-job-follows-"));
    jobDir = join(inbox, ID);
    changes = 0;
    follows = new JobFollows(inbox, (id) => {
      if (id === ID) changes++;
    });
  });
  afterEach(async () => {
    await follows.closeAll();
    await rm(inbox, { recursive: true, force: true });
  });

  /** Writes `file` (relative to the job folder) until the follow reports it: proves its folder is watched. */
  async function seen(file: string): Promise<void> {
    const before = changes;
    let n = 0;
    await until(`a change of ${file}`, async () => {
      await writeFile(join(jobDir, ...file.split("/")), String(n++));
      return changes > before;
    });
  }

  it("follows a job folder, then the result folders still arriving, and closes it all on unfollow", async () => {
    await mkdir(join(jobDir, "3_results"), { recursive: true });
    expect(await follows.follow(ID, "job")).toBe(false);
    expect(await follows.follow(ID, "job")).toBe(false);
    expect(follows.ids()).toEqual([ID]);
    // The watch reports once it is live: whatever landed before must be read.
    await until("the follow to be live", () => changes > 0);
    await seen("job.json");

    expect(await follows.follow(ID, "results", MANIFEST)).toBe(true);
    expect(await follows.follow(ID, "results", MANIFEST)).toBe(false);
    await seen("3_results/study.db");
    // plots/ did not exist: it is added once it appears.
    await mkdir(join(jobDir, "3_results", "plots"));
    expect(await follows.follow(ID, "results", MANIFEST)).toBe(true);
    await seen("3_results/plots/history.png");

    await follows.unfollow(ID);
    expect(follows.ids()).toEqual([]);
  });

  it("follows a result folder anew once it was removed and made again", async () => {
    await mkdir(join(jobDir, "3_results"), { recursive: true });
    await follows.follow(ID, "results", MANIFEST);
    await until("the follow to be live", () => changes > 0);
    await seen("3_results/study.db");
    await rm(join(jobDir, "3_results"), { recursive: true });
    const before = changes;
    await mkdir(join(jobDir, "3_results"));
    await until("the folder to be seen again", () => changes > before);
    expect(await follows.follow(ID, "results", MANIFEST)).toBe(true);
    await seen("3_results/study.db");
  });

  it("follows the folders below a result folder anew once it was replaced by another one", async () => {
    await mkdir(join(jobDir, "3_results", "plots"), { recursive: true });
    await follows.follow(ID, "results", MANIFEST);
    await until("the follow to be live", () => changes > 0);
    await seen("3_results/plots/history.png");
    // Moved away whole: the old watches would follow the moved folders and see nothing new here.
    await rename(join(jobDir, "3_results"), join(jobDir, "moved-away"));
    const before = changes;
    await mkdir(join(jobDir, "3_results", "plots"), { recursive: true });
    await until("the replacement to be seen", () => changes > before);
    await until("both folders to be watched again", async () => follows.follow(ID, "results", MANIFEST));
    await seen("3_results/plots/history.png");
  });

  it("keeps the watch of a result folder that only gained a file", async () => {
    await mkdir(join(jobDir, "3_results"), { recursive: true });
    await follows.follow(ID, "results", MANIFEST);
    await until("the follow to be live", () => changes > 0);
    await seen("3_results/study.db");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await follows.follow(ID, "results", MANIFEST)).toBe(false);
  });

  it("reports nothing once unfollowed, and counts only job.json in job mode", async () => {
    await mkdir(join(jobDir, "3_results"), { recursive: true });
    await follows.follow(ID, "job");
    await until("the follow to be live", () => changes > 0);
    const before = changes;
    await writeFile(join(jobDir, "stdout.log"), "a line");
    await writeFile(join(jobDir, "3_results", "study.db"), "x");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(changes).toBe(before);
    await seen("job.json");
    await follows.unfollow(ID);
    const after = changes;
    await writeFile(join(jobDir, "job.json"), "{}");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(changes).toBe(after);
  });

  it("follows nothing new once closed", async () => {
    await mkdir(jobDir);
    await follows.closeAll();
    expect(await follows.follow(ID, "job")).toBe(false);
    expect(follows.ids()).toEqual([]);
  });
});
