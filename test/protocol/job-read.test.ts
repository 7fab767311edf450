import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { JobRead } from "../../protocol/index.ts";
import { jobOf, readJobAt } from "../../protocol/index.ts";
import { mkfifo, POSIX } from "../helpers/hostile-fs.ts";
import { SEED_JOB_TEXT, useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("job-read");

type Setup = (dir: string, outside: string) => Promise<void>;

const cases: { name: string; posixOnly?: boolean; setup: Setup; want: JobRead["kind"]; problem?: string }[] =
  [
    { name: "no folder", setup: async () => {}, want: "absent" },
    { name: "a folder without job.json", setup: (dir) => mkdir(dir), want: "absent" },
    {
      name: "the seed job",
      setup: async (dir) => {
        await mkdir(dir);
        await writeFile(join(dir, "job.json"), SEED_JOB_TEXT);
      },
      want: "ok",
    },
    {
      name: "half-synced JSON",
      setup: async (dir) => {
        await mkdir(dir);
        await writeFile(join(dir, "job.json"), SEED_JOB_TEXT.slice(0, 40));
      },
      want: "invalid",
      problem: "not valid JSON",
    },
    {
      name: "a job with a bad field",
      setup: async (dir) => {
        await mkdir(dir);
        await writeFile(join(dir, "job.json"), SEED_JOB_TEXT.replace('"submitted"', '"paused"'));
      },
      want: "invalid",
      problem: "status",
    },
    {
      name: "job.json linked to a file outside",
      posixOnly: true,
      setup: async (dir, outside) => {
        await mkdir(dir);
        await writeFile(join(outside, "job.json"), SEED_JOB_TEXT);
        await symlink(join(outside, "job.json"), join(dir, "job.json"));
      },
      want: "invalid",
      problem: "symbolic link",
    },
    {
      name: "a linked job folder",
      posixOnly: true,
      setup: async (dir, outside) => {
        await writeFile(join(outside, "job.json"), SEED_JOB_TEXT);
        await symlink(outside, dir);
      },
      want: "invalid",
      problem: "not a folder",
    },
    {
      name: "job.json as a FIFO",
      posixOnly: true,
      setup: async (dir) => {
        await mkdir(dir);
        mkfifo(join(dir, "job.json"));
      },
      want: "invalid",
      problem: "FIFO",
    },
  ];

describe("readJobAt", () => {
  it.each(cases.filter((c) => POSIX || !c.posixOnly))("$name: $want", async ({ setup, want, problem }) => {
    const root = await tempDir();
    const outside = join(root, "outside");
    await mkdir(outside);
    const dir = join(root, "job-20260210-143022-wfe");
    await setup(dir, outside);
    const read = await readJobAt(dir);
    expect(read.kind).toBe(want);
    if (read.kind === "ok") {
      expect(read.job.job_id).toBe("job-20260210-143022-wfe");
      expect(jobOf(read)).toBe(read.job);
    } else expect(jobOf(read)).toBeUndefined();
    if (read.kind === "invalid") {
      expect(read.problem).toContain(problem);
      // Every one of these stays bad until the file is rewritten: a content problem, not a failing read.
      expect(read.cause).toBe("content");
    }
  });

  it.runIf(POSIX && process.getuid?.() !== 0)("a job.json it may not read is a failing read", async () => {
    const root = await tempDir();
    await writeFile(join(root, "job.json"), SEED_JOB_TEXT, { mode: 0o000 });
    const read = await readJobAt(root);
    expect(read).toMatchObject({ kind: "invalid", cause: "fs" });
  });
});
