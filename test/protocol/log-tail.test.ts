import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LogTail, LogTailOptions } from "../../protocol/index.ts";
import { readLogTail, tailLines } from "../../protocol/index.ts";
import { mkfifo, POSIX } from "../helpers/hostile-fs.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("log-tail");
const SECRET = "root:x:0:0:secret-outside-the-queue\n";
const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${i}`);

interface Case {
  name: string;
  posixOnly?: boolean;
  /** Makes `<job>/stdout.log` (or not); `outside` is a folder beside the job's. */
  setup: (log: string, outside: string) => Promise<void>;
  options?: LogTailOptions;
  want: LogTail | { kind: "unsafe"; contains: string };
}

const write = (text: string | Buffer) => (log: string) => writeFile(log, text);

const cases: Case[] = [
  { name: "absent", setup: async () => {}, want: { kind: "absent" } },
  { name: "empty", setup: write(""), want: { kind: "ok", lines: [] } },
  { name: "short, no final newline", setup: write("a\nb"), want: { kind: "ok", lines: ["a", "b"] } },
  {
    name: "short, final newline adds no line",
    setup: write("a\nb\n"),
    want: { kind: "ok", lines: ["a", "b"] },
  },
  {
    name: "more lines than asked for",
    setup: write(`${numbered(100).join("\n")}\n`),
    options: { maxLines: 3 },
    want: { kind: "ok", lines: ["line 97", "line 98", "line 99"] },
  },
  {
    name: "longer than the window: the partial first line is dropped",
    setup: write("line 19997\nline 19998\nline 19999\n"),
    options: { maxBytes: 25 },
    want: { kind: "ok", lines: ["line 19998", "line 19999"] },
  },
  {
    name: "window starting exactly at a line keeps that line",
    setup: write("first\nsecond\nthird\n"),
    options: { maxBytes: "second\nthird\n".length },
    want: { kind: "ok", lines: ["second", "third"] },
  },
  {
    name: "window starting mid-character never shows half a character",
    setup: write(Buffer.from("é\nsecond\n", "utf8")),
    options: { maxBytes: "\nsecond\n".length + 1 },
    want: { kind: "ok", lines: ["second"] },
  },
  {
    name: "one line longer than the window shows nothing rather than a fragment",
    setup: write(`${"x".repeat(100)}\n`),
    options: { maxBytes: 10 },
    want: { kind: "ok", lines: [] },
  },
  {
    name: "CRLF line ends",
    setup: write("one\r\ntwo\r\nthree\r\n"),
    want: { kind: "ok", lines: ["one", "two", "three"] },
  },
  {
    name: "CRLF split by the window's start",
    setup: write("one\r\ntwo\r\n"),
    options: { maxBytes: "\ntwo\r\n".length },
    want: { kind: "ok", lines: ["two"] },
  },
  {
    name: "blank lines kept",
    setup: write("a\n\n  \nb\n"),
    want: { kind: "ok", lines: ["a", "", "  ", "b"] },
  },
  {
    name: "blank lines skipped on request, before counting",
    setup: write("a\nb\n\n  \n\n"),
    options: { skipBlank: true, maxLines: 2 },
    want: { kind: "ok", lines: ["a", "b"] },
  },
  {
    name: "a link to a file outside is refused, unread",
    posixOnly: true,
    setup: async (log, outside) => {
      await writeFile(join(outside, "passwd"), SECRET);
      await symlink(join(outside, "passwd"), log);
    },
    want: { kind: "unsafe", contains: "symbolic link" },
  },
  {
    name: "a FIFO is refused without blocking",
    posixOnly: true,
    setup: async (log) => mkfifo(log),
    want: { kind: "unsafe", contains: "FIFO" },
  },
];

describe("readLogTail", () => {
  it.each(cases.filter((c) => POSIX || !c.posixOnly))("$name", async ({ setup, options, want }) => {
    const root = await tempDir();
    const outside = join(root, "outside");
    const job = join(root, "inbox", "job-20260210-143022-wfe");
    await mkdir(outside);
    await mkdir(job, { recursive: true });
    const log = join(job, "stdout.log");
    await setup(log, outside);
    const tail = await readLogTail(log, options);
    if ("contains" in want) {
      expect(tail.kind).toBe("unsafe");
      expect(tail.kind === "unsafe" ? tail.problem : "").toContain(want.contains);
      expect(JSON.stringify(tail)).not.toContain("secret");
      expect(tailLines(tail)).toEqual([]);
    } else {
      expect(tail).toEqual(want);
      expect(tailLines(tail)).toEqual(want.kind === "ok" ? want.lines : []);
    }
  });

  it.runIf(POSIX)("with `within`, a log reached through a linked job folder is refused", async () => {
    const root = await tempDir();
    const inbox = join(root, "inbox");
    const elsewhere = join(root, "elsewhere");
    await mkdir(inbox);
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, "stdout.log"), SECRET);
    await symlink(elsewhere, join(inbox, "job-20260210-143022-wfe"));
    const log = join(inbox, "job-20260210-143022-wfe", "stdout.log");
    expect(await readLogTail(log)).toEqual({ kind: "ok", lines: [SECRET.trim()] });
    const tail = await readLogTail(log, { within: inbox });
    expect(tail.kind).toBe("unsafe");
    expect(tail.kind === "unsafe" ? tail.problem : "").toContain("linked folder");
  });

  it("reads only the window of a large log", async () => {
    const root = await tempDir();
    const log = join(root, "stdout.log");
    await writeFile(log, `${numbered(200_000).join("\n")}\n`);
    const tail = await readLogTail(log, { maxBytes: 4096, maxLines: 1000 });
    const lines = tailLines(tail);
    expect(lines.at(-1)).toBe("line 199999");
    // 4 KiB of 12-byte lines: about 340 whole lines, never the whole file.
    expect(lines.length).toBeGreaterThan(300);
    expect(lines.length).toBeLessThan(400);
    expect(lines[0]).toMatch(/^line \d+$/);
  });
});
