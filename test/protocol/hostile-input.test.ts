// Hostile corpus, protocol side: bytes, nesting, sizes, manifest counts and paths that once hung,
// crashed or silently changed a reader. Each case is refused with an error that names the problem and
// the fix, or handled correctly. The runner's intake uses the same functions (parseJobBytes, readJob).
import { mkdir, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { Job } from "../../protocol/index.ts";
import {
  checkJobPath,
  isProtocolError,
  MAX_JOB_FILE_BYTES,
  MAX_JSON_DEPTH,
  MAX_MANIFEST_ENTRIES,
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  parseJobBytes,
  QUEUE_LIMITS,
  readJob,
  readJsonFile,
  verifyManifest,
  writeJob,
} from "../../protocol/index.ts";
import { jobIdFor, jobTextWith, nested, validJob, withBytes } from "../helpers/hostile-fs.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("hostile-input");
/** A root that does not exist: any fs call under it fails with ENOENT, so a refusal came first. */
const NO_ROOT = "/nonexistent-atomizer-root";
const ID = jobIdFor("hostile");

async function refusal(run: () => unknown): Promise<Error & { code?: string }> {
  try {
    await run();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected a refusal, but it was accepted");
}

async function jobDirWith(bytes: Uint8Array | string): Promise<string> {
  const dir = join(await tempDir(), ID);
  await mkdir(dir);
  await writeFile(join(dir, "job.json"), bytes);
  return dir;
}

// Each is a byte sequence Node's "utf8" decoding would have turned into U+FFFD without a word.
const INVALID_UTF8: [string, number[]][] = [
  ["a lone continuation byte", [0x80]],
  ["a lone 0xBF", [0xbf]],
  ["an overlong 2-byte '/' (C0 AF)", [0xc0, 0xaf]],
  ["an overlong C1 lead", [0xc1, 0x81]],
  ["a 2-byte sequence cut short", [0xc3, 0x41]],
  ["a 3-byte sequence cut short", [0xe2, 0x82, 0x41]],
  ["an overlong 3-byte (E0 80 AF)", [0xe0, 0x80, 0xaf]],
  ["a UTF-16 surrogate (ED A0 80)", [0xed, 0xa0, 0x80]],
  ["a 4-byte sequence cut short", [0xf0, 0x9f, 0x98, 0x41]],
  ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ["an F5 lead byte", [0xf5, 0x80, 0x80, 0x80]],
  ["an FE byte", [0xfe]],
  ["an FF byte", [0xff]],
  ["Latin-1 text (caf\\xe9)", [0x63, 0x61, 0x66, 0xe9]],
];

describe("invalid UTF-8 in job.json is refused, never replaced with U+FFFD", () => {
  test.each(INVALID_UTF8)("parseJobBytes: %s", (_label, bad) => {
    const { bytes, offset } = withBytes(ID, bad);
    let error: Error | undefined;
    try {
      parseJobBytes(bytes, "outbox/job.json");
    } catch (caught) {
      error = caught as Error;
    }
    expect(isProtocolError(error, "invalid_job")).toBe(true);
    expect(error?.message).toMatch(/outbox\/job\.json is not valid UTF-8/);
    expect(error?.message).toMatch(/write it as UTF-8/);
    // The offset names the first bad byte (Latin-1 'é' comes after three good bytes).
    expect(error?.message).toContain(`offset ${offset + (bad[0] === 0x63 ? 3 : 0)}`);
  });

  test.each(INVALID_UTF8)("readJob from disk: %s", async (_label, bad) => {
    const dir = await jobDirWith(withBytes(ID, bad).bytes);
    const error = await refusal(() => readJob(dir));
    expect(isProtocolError(error, "invalid_job")).toBe(true);
    expect(error.message).toContain(join(dir, "job.json"));
    expect(error.message).toContain("not valid UTF-8");
  });

  test.each(INVALID_UTF8)("readJsonFile (heartbeats, cancel requests): %s", async (_label, bad) => {
    const dir = await jobDirWith(withBytes(ID, bad).bytes);
    const error = await refusal(() => readJsonFile(join(dir, "job.json")));
    expect(isProtocolError(error, "invalid_job")).toBe(true);
    expect(error.message).toContain("not valid UTF-8");
  });

  test.each([
    ["a BOM (Notepad)", "\ufeff"],
    ["no BOM", ""],
  ])("valid UTF-8 with %s still reads, multi-byte text intact", (_label, bom) => {
    const text = `${bom}${JSON.stringify(validJob(ID, { project: "mirror-é-中-😀" }))}`;
    expect(parseJobBytes(Buffer.from(text, "utf8")).project).toBe("mirror-é-中-😀");
  });
});

describe(`nesting deeper than MAX_JSON_DEPTH (${MAX_JSON_DEPTH}) is refused before any recursive reader`, () => {
  const cases: [number, "array" | "object"][] = [
    [MAX_JSON_DEPTH, "array"],
    [MAX_JSON_DEPTH, "object"],
    [100, "array"],
    [100, "object"],
    [10_000, "array"],
    [10_000, "object"],
    [100_000, "array"],
    [1_000_000, "array"],
  ];
  test.each(cases)("an unknown field nested %i deep (%s)", (depth, kind) => {
    // The job object itself is one level: the field may nest MAX_JSON_DEPTH - 1 deep.
    const text = jobTextWith(ID, "x_extra", nested(depth, kind));
    let error: Error | undefined;
    try {
      parseJobBytes(Buffer.from(text), "job.json");
    } catch (caught) {
      error = caught as Error;
    }
    expect(isProtocolError(error, "invalid_job")).toBe(true);
    expect(error?.message).toContain(`more than ${MAX_JSON_DEPTH} deep`);
    expect(error?.message).toContain("flatten");
    expect(error?.message).not.toMatch(/call stack/);
  });

  test.each([
    ["progress.best_params", (v: string) => jobTextWith(ID, "progress", `{"best_params":{"p":${v}}}`)],
    ["error", (v: string) => jobTextWith(ID, "error", `{"kind":"internal","message":"x","deep":${v}}`)],
    [
      "a files entry",
      (v: string) =>
        jobTextWith(
          ID,
          "results",
          `{"published_at":"2026-02-10T14:30:22Z","files":[{"path":"a","size":1,"sha256":"${"0".repeat(64)}","x":${v}}]}`,
        ),
    ],
  ])("a 10,000-deep value inside %s", async (_label, build) => {
    const dir = await jobDirWith(build(nested(10_000, "array")));
    const error = await refusal(() => readJob(dir));
    expect(error.message).toContain(`more than ${MAX_JSON_DEPTH} deep`);
  });

  test.each([
    ["brackets inside a string", `"${"[".repeat(10_000)}"`],
    [
      "escaped quotes before brackets",
      `"\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["`,
    ],
    ["exactly the limit", nested(MAX_JSON_DEPTH - 1, "array")],
  ])("accepted: %s", (_label, value) => {
    const job = parseJobBytes(Buffer.from(jobTextWith(ID, "x_extra", value)));
    expect(job.job_id).toBe(ID);
  });

  test("a writer cannot produce what readers refuse: writeJob refuses a too-deep job", async () => {
    const dir = join(await tempDir(), ID);
    await mkdir(dir);
    let deep: unknown = [];
    for (let i = 0; i < MAX_JSON_DEPTH + 5; i++) deep = [deep];
    const error = await refusal(() => writeJob(dir, { ...validJob(ID), x_extra: deep } as unknown as Job));
    expect(error.message).toContain(`more than ${MAX_JSON_DEPTH} deep`);
  });
});

describe(`job.json over MAX_JOB_FILE_BYTES (${MAX_JOB_FILE_BYTES}) is refused without reading it whole`, () => {
  test.each([
    ["one byte over", MAX_JOB_FILE_BYTES + 1],
    ["100 MB", 100 * 1024 * 1024],
    ["2 GB", 2 * 1024 * 1024 * 1024],
    ["8 GB", 8 * 1024 * 1024 * 1024],
  ])("a sparse job.json %s", async (_label, size) => {
    const dir = join(await tempDir(), ID);
    await mkdir(dir);
    const handle = await open(join(dir, "job.json"), "w");
    await handle.truncate(size);
    await handle.close();
    const started = Date.now();
    const error = await refusal(() => readJob(dir));
    expect(isProtocolError(error, "invalid_job")).toBe(true);
    expect(error.message).toContain(`is ${size} bytes`);
    expect(error.message).toContain(`at most ${MAX_JOB_FILE_BYTES} bytes`);
    // From fstat, before reading: gigabytes of zeros are never read.
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test("parseJobBytes refuses an in-memory job.json one byte over", () => {
    expect(() => parseJobBytes(Buffer.alloc(MAX_JOB_FILE_BYTES + 1, 0x20))).toThrow(/at most \d+ bytes/);
  });
});

function entries(count: number) {
  return Array.from({ length: count }, (_, i) => ({ path: `f/${i}`, size: 0, sha256: "0".repeat(64) }));
}

describe(`manifests over MAX_MANIFEST_ENTRIES (${MAX_MANIFEST_ENTRIES}) are refused`, () => {
  test("files: exactly the limit is accepted", () => {
    const job = parseJobBytes(
      Buffer.from(JSON.stringify(validJob(ID, { files: entries(MAX_MANIFEST_ENTRIES) }))),
    );
    expect(job.files).toHaveLength(MAX_MANIFEST_ENTRIES);
  });

  test.each([
    ["files", (n: number) => validJob(ID, { files: entries(n) })],
    [
      "results.files",
      (n: number) =>
        validJob(ID, {
          status: "completed",
          results: { files: entries(n), published_at: "2026-02-10T14:30:22Z" },
        }),
    ],
  ])("%s: one entry over the limit", (field, build) => {
    let error: Error | undefined;
    try {
      parseJobBytes(Buffer.from(JSON.stringify(build(MAX_MANIFEST_ENTRIES + 1))));
    } catch (caught) {
      error = caught as Error;
    }
    expect(isProtocolError(error, "invalid_job")).toBe(true);
    expect(error?.message).toContain(field);
    expect(error?.message).toContain(`at most ${MAX_MANIFEST_ENTRIES} files`);
    expect(error?.message).toContain("pack small files");
  });

  test("verifyManifest refuses an oversized manifest before listing the folder", async () => {
    const error = await refusal(() => verifyManifest(NO_ROOT, entries(MAX_MANIFEST_ENTRIES + 1)));
    expect(isProtocolError(error, "invalid_job")).toBe(true);
    expect(error.message).toContain(`at most ${MAX_MANIFEST_ENTRIES}`);
  });
});

const LONG_PATHS: [string, string][] = [
  ["4,097 ASCII bytes", "a".repeat(MAX_PATH_BYTES + 1)],
  ["5,000 bytes in folders", Array.from({ length: 1000 }, () => "abcd").join("/")],
  ["1 MB", "x".repeat(1024 * 1024)],
  ["16 MB", "y".repeat(16 * 1024 * 1024)],
  ["1,366 three-byte characters", "中".repeat(1366)],
  ["1,025 emoji (4 bytes each)", "😀".repeat(1025)],
  ["a long path that is also absolute", `/${"a".repeat(5000)}`],
  ["a long path with a drive letter", `C:/${"a".repeat(5000)}`],
  ["a long path of dot-dot segments", "../".repeat(2000)],
];

describe(`paths over MAX_PATH_BYTES (${MAX_PATH_BYTES}) are refused by the path rules, before any fs call`, () => {
  test.each(LONG_PATHS)("checkJobPath: %s", (_label, path) => {
    const problem = checkJobPath(path);
    expect(problem?.rule).toBe("too_long");
    expect(problem?.message).toContain(`at most ${MAX_PATH_BYTES} bytes`);
    // The message quotes a bounded prefix, never the whole path.
    expect(problem?.message.length).toBeLessThan(400);
  });

  test.each(LONG_PATHS)("verifyManifest: %s listed in a manifest", async (_label, path) => {
    const error = await refusal(() => verifyManifest(NO_ROOT, [{ path, size: 1, sha256: "0".repeat(64) }]));
    expect(isProtocolError(error, "invalid_path")).toBe(true);
    expect(error.message).toContain(`at most ${MAX_PATH_BYTES} bytes`);
    expect((error as { code?: string }).code).not.toBe("ENAMETOOLONG");
  });

  test.each([
    ["a 258-byte name (86 three-byte characters)", "中".repeat(86), "too_long"],
    ["a 258-byte name in a folder", `a/${"中".repeat(86)}`, "too_long"],
    ["a 255-byte name (85 three-byte characters)", "中".repeat(85), undefined],
    ["120 UTF-16 units of emoji (240 bytes)", "😀".repeat(60), undefined],
    ["121 characters", "b".repeat(121), "too_long"],
  ])("%s", (_label, path, rule) => {
    const problem = checkJobPath(path);
    expect(problem?.rule).toBe(rule);
    if (rule) expect(problem?.message).toMatch(/shorten it|at most/);
    if (problem?.message.includes(`${MAX_NAME_BYTES}`)) expect(problem.message).toContain("MAX_NAME_BYTES");
  });
});

test("the limits are exported by name, one value each", () => {
  expect(QUEUE_LIMITS).toEqual({
    max_job_file_bytes: MAX_JOB_FILE_BYTES,
    max_json_depth: MAX_JSON_DEPTH,
    max_manifest_entries: MAX_MANIFEST_ENTRIES,
    max_path_bytes: MAX_PATH_BYTES,
    max_name_bytes: MAX_NAME_BYTES,
    max_relative_path_length: 120,
  });
  expect(Object.isFrozen(QUEUE_LIMITS)).toBe(true);
});
