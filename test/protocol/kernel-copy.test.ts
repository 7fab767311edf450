// The kernel copy of large files on Linux: only when it can be trusted to copy the verified file,
// a fallback when it cannot, and a refusal when the file changed between the copy and the hash.
import type { BigIntStats } from "node:fs";
import { lstat, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { copyAndHashFile, hashFile } from "../../protocol/file-hash.ts";
import { assertUnchanged, KERNEL_COPY_MIN_BYTES, kernelCopyPossible } from "../../protocol/kernel-copy.ts";
import { useTempDirs } from "./fixtures.ts";
import { writeBigFile } from "./helpers/manifest-job.ts";

const tempDir = useTempDirs("kernel-copy");

describe("kernelCopyPossible", () => {
  it.each<[NodeJS.Platform, number, boolean]>([
    ["linux", KERNEL_COPY_MIN_BYTES, true],
    ["linux", KERNEL_COPY_MIN_BYTES - 1, false],
    ["win32", 1024 * KERNEL_COPY_MIN_BYTES, false],
    ["darwin", 1024 * KERNEL_COPY_MIN_BYTES, false],
  ])("%s, %i bytes: %s", (platform, size, possible) => {
    expect(kernelCopyPossible(size, platform)).toBe(possible);
  });
});

describe("assertUnchanged", () => {
  const stats = (patch: Partial<Record<"ino" | "size" | "mtimeNs" | "ctimeNs", bigint>>) =>
    ({ ino: 7n, size: 100n, mtimeNs: 5n, ctimeNs: 6n, ...patch }) as BigIntStats;
  it.each([
    ["a new inode", { ino: 8n }],
    ["a new size", { size: 101n }],
    ["a new modification time", { mtimeNs: 9n }],
    ["a new change time (mtime set back)", { ctimeNs: 9n }],
  ])("refuses %s", (_what, patch) => {
    expect(() => assertUnchanged("model.fem", stats({}), stats(patch))).toThrow(
      /model\.fem changed while it was being copied/,
    );
  });
  it("lets the same stats pass", () => {
    expect(() => assertUnchanged("model.fem", stats({}), stats({}))).not.toThrow();
  });
});

describe.skipIf(process.platform !== "linux")("copyAndHashFile of a large file on Linux", () => {
  it("copies it whole through the kernel, hashed as hashFile hashes it", async () => {
    const dir = await tempDir();
    const source = join(dir, "model.fem");
    const sha256 = await writeBigFile(source, KERNEL_COPY_MIN_BYTES + 12_345);
    const target = join(dir, "copy", "model.fem");
    expect(await copyAndHashFile(source, target)).toEqual({ size: KERNEL_COPY_MIN_BYTES + 12_345, sha256 });
    expect(await hashFile(target)).toEqual({ size: KERNEL_COPY_MIN_BYTES + 12_345, sha256 });
  });

  it("copies the bytes itself when the target exists, and never through a link planted there", async () => {
    const dir = await tempDir();
    const source = join(dir, "model.fem");
    const sha256 = await writeBigFile(source, KERNEL_COPY_MIN_BYTES);
    const elsewhere = join(dir, "elsewhere");
    await writeFile(elsewhere, "keep me");
    const target = join(dir, "planted");
    await symlink(elsewhere, target);
    // The kernel copy refuses an existing target; the byte copy opens it without following links.
    await expect(copyAndHashFile(source, target)).rejects.toMatchObject({ code: "ELOOP" });
    expect(await readFile(elsewhere, "utf8")).toBe("keep me");
    const existing = join(dir, "existing");
    await writeFile(existing, "an older copy");
    expect(await copyAndHashFile(source, existing)).toEqual({ size: KERNEL_COPY_MIN_BYTES, sha256 });
    expect((await lstat(existing)).size).toBe(KERNEL_COPY_MIN_BYTES);
  });
});
