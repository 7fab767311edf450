// hashFile and copyAndHashFile: streamed hashing and copying agree with each other and with known sums.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { copyAndHashFile, hashFile, readBuffers, STREAM_CHUNK } from "../../protocol/file-hash.ts";
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

  it("one set of buffers serves many files in turn, large and small, each copied and hashed whole", async () => {
    const dir = await tempDir();
    const buffers = readBuffers();
    const big = join(dir, "big.prt");
    const bigSha = await writeBigFile(big, BIG_SIZE + 7);
    const cases: [string, number, string][] = [
      [big, BIG_SIZE + 7, bigSha],
      [join(dir, "hello"), 6, HELLO_SHA],
      [join(dir, "empty"), 0, EMPTY_SHA],
    ];
    await writeFile(join(dir, "hello"), "hello\n");
    await writeFile(join(dir, "empty"), "");
    // Small after large must not see the large one's bytes; large after small grows the buffers.
    for (const [round, order] of [cases, [...cases].reverse(), cases].entries()) {
      for (const [source, size, sha256] of order) {
        const target = join(dir, `copy-${round}`, `${size}`);
        expect(await copyAndHashFile(source, target, { buffers })).toEqual({ size, sha256 });
        expect(await hashFile(target, { buffers })).toEqual({ size, sha256 });
        expect((await readFile(target)).equals(await readFile(source))).toBe(true);
      }
    }
  });

  it("read buffers start at 64 KiB, grow to the largest file asked for, never past STREAM_CHUNK, never shrink", () => {
    const buffers = readBuffers();
    const sizes = [0, 16_384, 100_000, 5 * STREAM_CHUNK, 16_384];
    const lengths = sizes.map((size) => buffers.pair(size)[0].length);
    expect(lengths).toEqual([65_536, 65_536, 100_000, STREAM_CHUNK, STREAM_CHUNK]);
  });
});
