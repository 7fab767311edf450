import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CopyFilesOptions, FileEntry } from "../../protocol/index.ts";
import {
  copyVerifiedFile,
  copyVerifiedFiles,
  errnoCode,
  pathExists,
  wantedFiles,
} from "../../protocol/index.ts";
import { mkfifo, POSIX } from "../helpers/hostile-fs.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("copy-verify");
const SECRET = "root:x:0:0:secret-outside-the-queue\n";

function entry(path: string, text: string): FileEntry {
  return { path, size: Buffer.byteLength(text), sha256: createHash("sha256").update(text).digest("hex") };
}

/** A job folder in a "synced" folder with its manifest, a target folder, and a folder outside both. */
async function fixture() {
  const root = await tempDir();
  const synced = join(root, "inbox");
  const source = join(synced, "job-20260210-143022-wfe");
  const target = join(root, "work");
  const outside = join(root, "outside");
  await mkdir(join(source, "3_results"), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, "passwd"), SECRET);
  await writeFile(join(source, "stdout.log"), "ran\n");
  await writeFile(join(source, "3_results", "best.csv"), "x,y\n1,2\n");
  const manifest = [entry("3_results/best.csv", "x,y\n1,2\n"), entry("stdout.log", "ran\n")];
  return { root, synced, source, target, outside, manifest };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

interface Case {
  name: string;
  posixOnly?: boolean;
  change?: (f: Fixture) => Promise<FileEntry[] | undefined>;
  options?: CopyFilesOptions;
  want: { copied: string[]; missing?: string[]; mismatched?: string[]; refused?: string[] };
}

const cases: Case[] = [
  { name: "ok", want: { copied: ["3_results/best.csv", "stdout.log"] } },
  {
    name: "size mismatch (still arriving)",
    change: async (f) => {
      await writeFile(join(f.source, "stdout.log"), "ra");
      return undefined;
    },
    want: { copied: ["3_results/best.csv"], mismatched: ["stdout.log"] },
  },
  {
    name: "hash mismatch (same size, other bytes)",
    change: async (f) => {
      await writeFile(join(f.source, "3_results", "best.csv"), "x,y\n9,9\n");
      return undefined;
    },
    want: { copied: ["stdout.log"], mismatched: ["3_results/best.csv"] },
  },
  {
    name: "missing",
    change: async (f) => [...f.manifest, entry("3_results/late.png", "png")],
    want: { copied: ["3_results/best.csv", "stdout.log"], missing: ["3_results/late.png"] },
  },
  {
    name: "a manifest path that breaks the path rules is refused before any fs call",
    change: async (f) => [entry("../outside/passwd", SECRET), ...f.manifest],
    want: { copied: ["3_results/best.csv", "stdout.log"], refused: ["../outside/passwd"] },
  },
  {
    name: "link refused",
    posixOnly: true,
    change: async (f) => {
      await symlink(join(f.outside, "passwd"), join(f.source, "3_results", "linked.txt"));
      return [...f.manifest, entry("3_results/linked.txt", SECRET)];
    },
    want: { copied: ["3_results/best.csv", "stdout.log"], refused: ["3_results/linked.txt"] },
  },
  {
    name: "a file reached through a linked folder is refused",
    posixOnly: true,
    change: async (f) => {
      await symlink(f.outside, join(f.source, "3_results", "sub"));
      return [...f.manifest, entry("3_results/sub/passwd", SECRET)];
    },
    want: { copied: ["3_results/best.csv", "stdout.log"], refused: ["3_results/sub/passwd"] },
  },
  {
    name: "FIFO refused without blocking",
    posixOnly: true,
    change: async (f) => {
      mkfifo(join(f.source, "3_results", "pipe"));
      return [...f.manifest, entry("3_results/pipe", "")];
    },
    want: { copied: ["3_results/best.csv", "stdout.log"], refused: ["3_results/pipe"] },
  },
  {
    name: "stopAtFirstProblem stops at the first",
    change: async (f) => [entry("3_results/gone.txt", "x"), ...f.manifest],
    options: { stopAtFirstProblem: true },
    want: { copied: [], missing: ["3_results/gone.txt"] },
  },
];

describe("copyVerifiedFiles", () => {
  for (const atomic of [false, true]) {
    it.each(cases.filter((c) => POSIX || !c.posixOnly))(`$name${atomic ? " (atomic)" : ""}`, async (c) => {
      const f = await fixture();
      const manifest = (await c.change?.(f)) ?? f.manifest;
      const report = await copyVerifiedFiles(f.source, f.target, await wantedFiles(f.source, manifest), {
        ...c.options,
        atomic,
        within: f.synced,
      });
      expect(report.copied.map((e) => e.path)).toEqual(c.want.copied);
      expect(report.missing).toEqual(c.want.missing ?? []);
      expect(report.mismatched).toEqual(c.want.mismatched ?? []);
      expect(report.refused.map((r) => r.path)).toEqual(c.want.refused ?? []);
      expect(report.failed).toBeUndefined();
      expect(report.complete).toBe(c.want.copied.length === manifest.length);
      // Copied entries carry what was read while copying, which is what the manifest says.
      for (const copied of report.copied) expect(manifest).toContainEqual(copied);
      // Nothing from outside the synced folder ever lands.
      for (const name of await readdir(f.target, { recursive: true }).catch(() => [])) {
        const path = join(f.target, name);
        if (name.endsWith(".txt") || name.endsWith("passwd")) {
          expect(await readFile(path, "utf8").catch(() => "")).not.toContain("secret");
        }
      }
      // An atomic copy lands only what matched: a mismatching file is not in the target.
      if (atomic) {
        for (const path of c.want.mismatched ?? [])
          expect(await pathExists(join(f.target, path))).toBe(false);
        const leftovers = (await readdir(f.target, { recursive: true }).catch(() => [])).filter((n) =>
          n.includes(".atomizer-"),
        );
        expect(leftovers).toEqual([]);
      }
    });
  }

  it("a refused manifest path names its rule", async () => {
    const f = await fixture();
    const report = await copyVerifiedFiles(f.source, f.target, [{ path: "../x" }]);
    expect(report.refused).toEqual([
      { path: "../x", reason: expect.stringContaining(".."), rule: "dot_segment" },
    ]);
  });

  it("without a manifest, copies what the folder holds now, filtered", async () => {
    const f = await fixture();
    const wanted = await wantedFiles(f.source, undefined, (path) => path.startsWith("3_results/"));
    expect(wanted).toEqual([{ path: "3_results/best.csv" }]);
    const report = await copyVerifiedFiles(f.source, f.target, wanted);
    expect(report.complete).toBe(true);
    expect(report.copied).toEqual([entry("3_results/best.csv", "x,y\n1,2\n")]);
    expect(await readFile(join(f.target, "3_results", "best.csv"), "utf8")).toBe("x,y\n1,2\n");
  });

  it("a copy over an earlier one replaces it", async () => {
    const f = await fixture();
    await mkdir(f.target, { recursive: true });
    await writeFile(join(f.target, "stdout.log"), "an older, longer log\n");
    const report = await copyVerifiedFiles(f.source, f.target, [{ path: "stdout.log" }]);
    expect(report.complete).toBe(true);
    expect(await readFile(join(f.target, "stdout.log"), "utf8")).toBe("ran\n");
  });

  it("an unexpected error stops the copy and is reported", async () => {
    const f = await fixture();
    // The target folder is a file: the copy cannot be written, whatever the user's rights. That is no
    // missing source: the source is there.
    await writeFile(f.target, "");
    const wanted = [{ path: "stdout.log" }, { path: "3_results/best.csv" }];
    const report = await copyVerifiedFiles(f.source, f.target, wanted);
    expect(report.failed?.path).toBe("stdout.log");
    expect(errnoCode(report.failed?.error)).toMatch(/^(EEXIST|ENOTDIR)$/);
    expect(report.copied).toEqual([]);
    expect(report.missing).toEqual([]);
    expect(report.complete).toBe(false);
  });
});

describe("copyVerifiedFile", () => {
  it.each([
    ["ok", "ran\n", "ok"],
    ["mismatch", "other\n", "mismatch"],
  ] as const)("%s", async (_name, text, outcome) => {
    const f = await fixture();
    const result = await copyVerifiedFile(
      join(f.source, "stdout.log"),
      join(f.target, "stdout.log"),
      entry("stdout.log", text),
      { atomic: true },
    );
    expect(result.outcome).toBe(outcome);
    expect(await pathExists(join(f.target, "stdout.log"))).toBe(outcome === "ok");
  });

  it("missing", async () => {
    const f = await fixture();
    expect(await copyVerifiedFile(join(f.source, "nope"), join(f.target, "nope"), undefined)).toEqual({
      outcome: "missing",
    });
  });
});
