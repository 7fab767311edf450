import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readLogTail, tailLines } from "../../../protocol/index.ts";
import { plainLogText, readLogRange } from "../../../submitter/jobs/log-file.ts";

// What Optuna's colour logger writes: "[I 2026-...]" in green, a trial line with bold parts.
const ESC = "\u001b";
const COLOURED = `${ESC}[32m[I 2026-02-10 14:31:02,113]${ESC}[0m Trial 3 finished with value: ${ESC}[1m0.125${ESC}[0m\n`;
const PLAIN = "[I 2026-02-10 14:31:02,113] Trial 3 finished with value: 0.125\n";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomizer-log-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("log text given to agents has no terminal escape codes (the file keeps them)", () => {
  test("a range and a tail are plain text", async () => {
    const log = join(dir, "stdout.log");
    await writeFile(log, COLOURED.repeat(3));
    const range = await readLogRange(log, 0, 64 * 1024);
    expect(range?.text).toBe(PLAIN.repeat(3));
    expect(range?.next_offset).toBe(Buffer.byteLength(COLOURED) * 3);
    // What job_status and fetch_results do with a tail.
    const tail = tailLines(await readLogTail(log, { maxBytes: 4096, maxLines: 2 })).map(plainLogText);
    expect(tail).toEqual([PLAIN.trimEnd(), PLAIN.trimEnd()]);
  });

  test.each([1, 2, 3, 4, 5, 7])(
    "an escape code cut by the read window (%i bytes of it) is held back for the next read",
    async (cut) => {
      const log = join(dir, `cut-${cut}.log`);
      await writeFile(log, COLOURED);
      const codeStart = COLOURED.indexOf(`${ESC}[1m`);
      const first = await readLogRange(log, 0, codeStart + cut);
      expect(first?.text).not.toContain(ESC);
      expect(first?.text).not.toMatch(/\[1?$/);
      const rest = await readLogRange(log, first?.next_offset ?? 0, 64 * 1024);
      expect(`${first?.text}${rest?.text}`).toBe(PLAIN);
      expect(rest?.eof).toBe(true);
    },
  );
});
