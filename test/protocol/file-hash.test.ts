// hashFile and copyAndHashFile: streamed hashing and copying agree with each other and with known sums.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { copyAndHashFile, hashFile } from "../../protocol/file-hash.ts";
import { useTempDirs } from "./fixtures.ts";
import { BIG_SIZE, EMPTY_SHA, HELLO_SHA, writeBigFile } from "./helpers/manifest-job.ts";

const tempDir = useTempDirs("file-hash");

describe("hashFile and copyAndHashFile", () => {
  it("stream a 5 MB file: the copy equals the source and both report the same hash", async () => {
    const dir = await tempDir();
    const source = join(dir, "source.prt");
    const expected = await writeBigFile(source, BIG_SIZE + 123);
    expect(await hashFile(source)).toEqual({ size: BIG_SIZE + 123, sha256: expected });

    const target = join(dir, "copy", "into", "new", "folders", "model.prt");
    expect(await copyAndHashFile(source, target)).toEqual({ size: BIG_SIZE + 123, sha256: expected });
    expect(await hashFile(target)).toEqual({ size: BIG_SIZE + 123, sha256: expected });
    expect((await readFile(target)).equals(await readFile(source))).toBe(true);
  });

  it.each<[string, string, string]>([
    ["an empty file", "", EMPTY_SHA],
    ["known content", "hello\n", HELLO_SHA],
  ])("hash %s", async (_what, content, sha256) => {
    const dir = await tempDir();
    await writeFile(join(dir, "f"), content);
    expect(await hashFile(join(dir, "f"))).toEqual({ size: Buffer.byteLength(content), sha256 });
    expect(await copyAndHashFile(join(dir, "f"), join(dir, "g"))).toEqual({
      size: Buffer.byteLength(content),
      sha256,
    });
  });
});
