import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dirStamp, sameStamp, settledStamp, watchDir } from "../../protocol/dir-watch.ts";

const roots: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "dir-watch-"));
  roots.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(roots.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

function nextName(names: string[], wanted: string): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (names.includes(wanted)) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
}

describe("dirStamp", () => {
  it.each([
    ["a folder made inside", (dir: string) => mkdir(join(dir, "job-a"))],
    [
      "a file renamed in",
      async (dir: string) => {
        await writeFile(join(dir, "..tmp"), "x");
        await rename(join(dir, "..tmp"), join(dir, "job.json"));
      },
    ],
    ["an entry removed", async (dir: string) => rm(join(dir, "keep"), { recursive: true })],
  ])("changes with %s", async (_name, change) => {
    const dir = await tempDir();
    await mkdir(join(dir, "keep"));
    const before = await dirStamp(dir);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await change(dir);
    expect(sameStamp(before, await dirStamp(dir))).toBe(false);
  });

  it("is unchanged when only a file inside a sub-folder changes", async () => {
    const dir = await tempDir();
    await mkdir(join(dir, "job-a"));
    const before = await dirStamp(dir);
    await writeFile(join(dir, "job-a", "job.json"), "{}");
    expect(sameStamp(before, await dirStamp(dir))).toBe(true);
  });

  it("is undefined for a missing folder, which is never the same as anything", async () => {
    const dir = await tempDir();
    expect(await dirStamp(join(dir, "missing"))).toBeUndefined();
    expect(sameStamp(undefined, undefined)).toBe(false);
  });

  it("is not trusted when its listing began within the racy window", async () => {
    const stamp = await dirStamp(await tempDir());
    expect(settledStamp(stamp, Date.now())).toBeUndefined();
    expect(settledStamp(stamp, Date.now() + 10_000)).toEqual(stamp);
  });
});

describe("watchDir", () => {
  it("reports names added and removed directly inside, not changes deeper down", async () => {
    const dir = await tempDir();
    await mkdir(join(dir, "old"));
    const names: string[] = [];
    const watch = watchDir(dir, { onName: (name) => names.push(name), onReset: () => names.push("<reset>") });
    try {
      await mkdir(join(dir, "job-new"));
      await nextName(names, "job-new");
      await writeFile(join(dir, "old", "deep.txt"), "x");
      await rm(join(dir, "old"), { recursive: true });
      await nextName(names, "old");
      expect(names).not.toContain("deep.txt");
      expect(names).not.toContain("<reset>");
    } finally {
      watch.close();
    }
  });

  it("arms once a missing folder appears, and asks for a listing then", async () => {
    const parent = await tempDir();
    const dir = join(parent, "later");
    const names: string[] = [];
    const watch = watchDir(dir, { onName: (name) => names.push(name), onReset: () => names.push("<reset>") });
    try {
      await mkdir(dir);
      await nextName(names, "<reset>");
      await mkdir(join(dir, "job-x"));
      await nextName(names, "job-x");
      expect(names[0]).toBe("<reset>");
    } finally {
      watch.close();
    }
  });
});
