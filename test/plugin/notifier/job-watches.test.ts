import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JobWatches, resultDirs } from "../../../plugin/notifier/job-watches.ts";
import type { FileEntry } from "../../../protocol/index.ts";
import { waitFor } from "./engine-harness.ts";

const ID = "job-20260210-143022-starspec-m1-wfe-sweep";
const HASH = "0".repeat(64);
const entries = (...paths: string[]): FileEntry[] => paths.map((path) => ({ path, size: 1, sha256: HASH }));

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

describe("JobWatches", () => {
  let inbox: string;
  let watches: JobWatches;
  const changes: string[] = [];
  const ready: string[] = [];

  beforeEach(async () => {
    inbox = await mkdtemp(join(tmpdir(), "atomizer-job-watches-"));
    changes.length = 0;
    ready.length = 0;
    watches = new JobWatches(inbox, {
      ignored: (path) => path.endsWith(".tmp"),
      onChange: (id) => changes.push(id),
      onReady: (id) => ready.push(id),
      onError: (_id, error) => {
        throw error;
      },
    });
  });
  afterEach(async () => {
    await watches.closeAll();
    await rm(inbox, { recursive: true, force: true });
  });

  /** Writes a probe file into `dir` until the watch reports it: proves `dir` is watched, with no fixed wait. */
  async function seenIn(dir: string): Promise<void> {
    const before = changes.length;
    let n = 0;
    await waitFor(`a change in ${dir}`, async () => {
      await writeFile(join(dir, "probe"), String(n++));
      return changes.length > before;
    });
  }

  it("watches a job folder, then the result folders still syncing, and closes it all on unwatch", async () => {
    const jobDir = join(inbox, ID);
    await mkdir(join(jobDir, "3_results"), { recursive: true });
    watches.watch(ID);
    watches.watch(ID);
    expect(watches.count).toBe(1);
    await waitFor("the watch to be live", () => ready.includes(ID));
    await seenIn(jobDir);

    const manifest = entries("stdout.log", "3_results/plots/history.png");
    expect(await watches.watchResultDirs(ID, manifest)).toBe(true);
    expect(await watches.watchResultDirs(ID, manifest)).toBe(false);
    await seenIn(join(jobDir, "3_results"));
    // plots/ did not exist: it is added once it appears.
    await mkdir(join(jobDir, "3_results", "plots"));
    expect(await watches.watchResultDirs(ID, manifest)).toBe(true);
    await seenIn(join(jobDir, "3_results", "plots"));

    await watches.unwatch(ID);
    expect(watches.count).toBe(0);
    expect(watches.ids()).toEqual([]);
    expect(await watches.watchResultDirs(ID, manifest)).toBe(false);
  });

  it("watches nothing new once closed", async () => {
    await mkdir(join(inbox, ID));
    await watches.closeAll();
    watches.watch(ID);
    expect(watches.count).toBe(0);
  });
});
