// checkResults over real result folders: what each way of being incomplete says, the path rules
// before any fs call, links never read, the sizes-only mode, and the verification cache (a repeated
// check of unchanged files hashes nothing).
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FileEntry, ResultsManifest } from "../../../protocol/index.ts";
import { buildManifest } from "../../../protocol/index.ts";
import type { ResultsSync } from "../../../submitter/jobs/results-check.ts";
import { checkResults, noResults, VerificationCache } from "../../../submitter/jobs/results-check.ts";

const FILES: Record<string, string> = {
  "stdout.log": "done\n",
  "3_results/summary.json": '{"best": 0.01}',
  "3_results/plots/a.png": "png bytes",
};

let base: string;
let manifest: FileEntry[];
let count = 0;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "results-check-"));
  const source = join(base, "source");
  await write(source, FILES);
  manifest = await buildManifest(source);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function write(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, ...path.split("/").slice(0, -1)), { recursive: true });
    await writeFile(join(dir, ...path.split("/")), content);
  }
}

/** A fresh job folder holding `files` (by default all of them). */
async function folder(files: Record<string, string> = FILES): Promise<string> {
  const dir = join(base, `job-${++count}`);
  await mkdir(dir, { recursive: true });
  await write(dir, files);
  return dir;
}

const results = (files: FileEntry[] = manifest): ResultsManifest => ({
  files,
  published_at: "2026-03-01T12:00:00Z",
});
const without = (path: string) => Object.fromEntries(Object.entries(FILES).filter(([key]) => key !== path));

const CASES: {
  name: string;
  setup: () => Promise<{ dir: string; manifest: ResultsManifest | undefined }>;
  expected: Partial<ResultsSync>;
  summary: RegExp;
}[] = [
  {
    name: "every file there and hashing as listed",
    setup: async () => ({ dir: await folder(), manifest: results() }),
    expected: {
      manifest: true,
      files_total: 3,
      files_synced: 3,
      complete: true,
      missing: [],
      hash_mismatch: [],
    },
    summary: /^3 of 3 result files synced and verified$/,
  },
  {
    name: "no manifest",
    setup: async () => ({ dir: await folder(), manifest: undefined }),
    expected: noResults("job.json has no results manifest"),
    summary: /no results manifest/,
  },
  {
    name: "one file not delivered yet (no hashing)",
    setup: async () => ({ dir: await folder(without("3_results/plots/a.png")), manifest: results() }),
    expected: {
      manifest: true,
      files_total: 3,
      files_synced: 2,
      complete: false,
      missing: ["3_results/plots/a.png"],
    },
    summary: /^2 of 3 result files synced; waiting for 1 \(3_results\/plots\/a\.png\)$/,
  },
  {
    name: "a file still short",
    setup: async () => ({
      dir: await folder({ ...FILES, "3_results/summary.json": '{"best"' }),
      manifest: results(),
    }),
    expected: { files_synced: 2, complete: false, missing: ["3_results/summary.json"] },
    summary: /^2 of 3 result files synced; waiting for 1/,
  },
  {
    name: "a file of the right size with other content",
    setup: async () => ({
      dir: await folder({ ...FILES, "3_results/plots/a.png": "PNG BYTES" }),
      manifest: results(),
    }),
    expected: { files_synced: 2, complete: false, hash_mismatch: ["3_results/plots/a.png"] },
    summary:
      /^2 of 3 result files verified; content differs for 3_results\/plots\/a\.png \(still syncing\?\)$/,
  },
  {
    name: "a result file that is a link",
    setup: async () => {
      const dir = await folder(without("stdout.log"));
      await writeFile(join(base, "elsewhere.log"), "done\n");
      await symlink(join(base, "elsewhere.log"), join(dir, "stdout.log"));
      return { dir, manifest: results() };
    },
    expected: { manifest: true, files_total: 3, complete: false },
    summary: /links or special files \(stdout\.log\); they are never read/,
  },
  {
    name: "a manifest path that breaks the path rules, refused before any fs call",
    setup: async () => ({
      dir: await folder(),
      manifest: results([...manifest, { path: "../../etc/passwd", size: 1, sha256: "0".repeat(64) }]),
    }),
    expected: { manifest: true, files_total: 4, files_synced: 0, complete: false },
    summary: /lists an invalid path.*the runner must republish them/,
  },
];

describe("checkResults", () => {
  test.each(CASES)("$name", async ({ setup, expected, summary }) => {
    const { dir, manifest: listed } = await setup();
    const checked = await checkResults(dir, listed, new VerificationCache());
    expect(checked).toMatchObject(expected);
    expect(checked.summary).toMatch(summary);
  });

  test("with hash: false, complete sizes stop before hashing, unless a full check is cached", async () => {
    const dir = await folder({ ...FILES, "3_results/plots/a.png": "PNG BYTES" });
    const cache = new VerificationCache();
    const sized = await checkResults(dir, results(), cache, { hash: false });
    expect(sized).toMatchObject({ hashed: false, sync: { files_synced: 3, complete: false } });
    const full = await checkResults(dir, results(), cache);
    expect(full).toMatchObject({ complete: false, hash_mismatch: ["3_results/plots/a.png"] });
    // The full check is cached now: the sizes-only mode answers with it.
    expect(await checkResults(dir, results(), cache, { hash: false })).toEqual(full);
    // Missing files are found by size in either mode.
    const partial = await folder(without("stdout.log"));
    expect(await checkResults(partial, results(), cache, { hash: false })).toMatchObject({
      missing: ["stdout.log"],
    });
  });

  test("the cache answers for unchanged files and not once a file changed", async () => {
    const dir = await folder();
    const cache = new VerificationCache();
    expect((await checkResults(dir, results(), cache)).complete).toBe(true);
    // Same size, new content and mtime: the cached "verified" must not be reused.
    await writeFile(join(dir, "3_results", "plots", "a.png"), "PNG BYTES");
    const changed = await checkResults(dir, results(), cache);
    expect(changed).toMatchObject({ complete: false, hash_mismatch: ["3_results/plots/a.png"] });
  });
});
