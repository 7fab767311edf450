// copyStudy: a study's files copied and hashed in four lanes, largest first, entries in the
// listing's order; a failure ends the copy only once every copy in flight has ended.
import { randomBytes } from "node:crypto";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hashFile } from "../../../protocol/index.ts";
import { copyStudy } from "../../../submitter/submit/copy-study.ts";
import type { StudyFile } from "../../../submitter/submit/study-files.ts";

const made: string[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function study(sizes: number[]): Promise<{ root: string; staging: string; files: StudyFile[] }> {
  const base = await mkdtemp(join(tmpdir(), "atomizer-copy-study-"));
  made.push(base);
  const root = join(base, "study");
  await mkdir(join(root, "1_setup", "parts"), { recursive: true });
  const files: StudyFile[] = [];
  for (const [at, size] of sizes.entries()) {
    const path = at === 0 ? "run.py" : `1_setup/parts/part_${at}.prt`;
    await writeFile(join(root, ...path.split("/")), randomBytes(size));
    files.push({ path, source: join(root, ...path.split("/")) });
  }
  return { root, staging: join(base, "staging"), files };
}

async function allFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }).catch(() => [] as string[])).sort();
}

describe("copyStudy", () => {
  it.each([
    ["no file", []],
    ["one small file", [10]],
    ["a model among small files, the model listed last", [...Array(30).fill(2048), 3 * 1024 * 1024 + 5]],
    ["two models first, empty files after", [2 * 1024 * 1024, 1024 * 1024 + 1, 0, 0, 7]],
  ])("%s: every file copied whole, entries in the listing's order", async (_what, sizes) => {
    const { root, staging, files } = await study(sizes);
    const entries = await copyStudy(files, staging, root);
    expect(entries.map((entry) => entry.path)).toEqual(files.map((file) => file.path));
    for (const [at, file] of files.entries()) {
      expect(entries[at]).toEqual({ path: file.path, ...(await hashFile(file.source)) });
      const copied = await readFile(join(staging, ...file.path.split("/")));
      expect(copied.equals(await readFile(file.source))).toBe(true);
    }
  });

  it("throws the first failure once the copies in flight ended, and starts none after it", async () => {
    // Parts as large as a folder is on this filesystem (ext4 4096, tmpfs less, btrfs 0): a folder put
    // where a part was listed then sorts among them, stably in its place, and its copy is refused early.
    const probe = await mkdtemp(join(tmpdir(), "atomizer-copy-study-dir-"));
    made.push(probe);
    const folderSize = (await lstat(probe)).size;
    const { root, staging, files } = await study([4 * 1024 * 1024, ...Array(60).fill(folderSize)]);
    const swapped = files[3] as StudyFile;
    await rm(swapped.source);
    await mkdir(swapped.source);
    await expect(copyStudy(files, staging, root)).rejects.toThrow(/changed while it was being copied/);
    const after = await allFiles(staging);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await allFiles(staging)).toEqual(after);
    // The model, the parts before the swapped one, and at most the three copies then in flight.
    const copied = after.filter((path) => path.endsWith(".prt") || path.endsWith(".py"));
    expect(copied.length).toBeLessThanOrEqual(3 + 3);
  });
});
