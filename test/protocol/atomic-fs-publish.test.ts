// publishDirectory (a staged folder renamed into place, never over an existing one), pathExists and
// removeTree.
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pathExists, publishDirectory, removeTree } from "../../protocol/atomic-fs.ts";
import { isProtocolError } from "../../protocol/errors.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("atomic-fs");

describe("publishDirectory", () => {
  it("renames a fully staged folder into place", async () => {
    const dir = await tempDir();
    const staging = join(dir, ".staging", "job-20260210-143022-wfe");
    await mkdir(join(staging, "1_setup"), { recursive: true });
    await writeFile(join(staging, "job.json"), "{}");
    await writeFile(join(staging, "1_setup", "m1.prt"), "part");
    await mkdir(join(dir, "outbox"));
    const target = join(dir, "outbox", "job-20260210-143022-wfe");
    await publishDirectory(staging, target);
    expect(await pathExists(staging)).toBe(false);
    expect((await readdir(target)).sort()).toEqual(["1_setup", "job.json"]);
    expect(await readFile(join(target, "1_setup", "m1.prt"), "utf8")).toBe("part");
  });

  it.each<[string, (target: string) => Promise<void>]>([
    ["an empty folder", (target) => mkdir(target)],
    [
      "a folder with files",
      async (target) => {
        await mkdir(target);
        await writeFile(join(target, "job.json"), "theirs");
      },
    ],
    ["a file", (target) => writeFile(target, "theirs")],
  ])("refuses to replace %s and touches neither side", async (_what, makeTarget) => {
    const dir = await tempDir();
    const staging = join(dir, "staging");
    await mkdir(staging);
    await writeFile(join(staging, "job.json"), "ours");
    const target = join(dir, "job-20260210-143022-wfe");
    await makeTarget(target);
    const before = await pathExists(join(target, "job.json"));

    await expect(publishDirectory(staging, target)).rejects.toSatisfy(
      (error: unknown) =>
        isProtocolError(error, "conflict") && (error as Error).message.includes(`${target} already exists`),
    );
    expect(await readFile(join(staging, "job.json"), "utf8")).toBe("ours");
    expect(await pathExists(target)).toBe(true);
    expect(await pathExists(join(target, "job.json"))).toBe(before);
    if (before) expect(await readFile(join(target, "job.json"), "utf8")).toBe("theirs");
  });
});

describe("pathExists and removeTree", () => {
  const fileAt = async (dir: string, ...rest: string[]) => {
    await writeFile(join(dir, "f"), "");
    return join(dir, "f", ...rest);
  };
  const danglingLink = async (dir: string) => {
    await symlink(join(dir, "none"), join(dir, "link"));
    return join(dir, "link");
  };
  type ExistsCase = [string, (dir: string) => Promise<string>, boolean];
  // Creating links needs extra rights on Windows.
  const links: ExistsCase[] = process.platform === "win32" ? [] : [["a dangling link", danglingLink, true]];
  it.each<ExistsCase>([
    ["a file", (dir) => fileAt(dir), true],
    ["a folder", async (dir) => dir, true],
    ["nothing", async (dir) => join(dir, "none"), false],
    ["a path under a file", (dir) => fileAt(dir, "x"), false],
    ...links,
  ])("pathExists(%s) is %s", async (_what, make, expected) => {
    expect(await pathExists(await make(await tempDir()))).toBe(expected);
  });

  it("removeTree removes a whole tree and accepts a missing one", async () => {
    const dir = await tempDir();
    await mkdir(join(dir, "a", "b", "c"), { recursive: true });
    await writeFile(join(dir, "a", "b", "c", "d.txt"), "x");
    await removeTree(join(dir, "a"));
    expect(await pathExists(join(dir, "a"))).toBe(false);
    await expect(removeTree(join(dir, "a"))).resolves.toBeUndefined();
  });
});
