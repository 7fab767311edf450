// writeJsonAtomic and writeFileAtomic: readers in another process never see a torn file, no temp file is
// left behind, failures pass through; tempPathFor's ignorable names; readJsonFile's errors.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { readJsonFile, tempPathFor, writeFileAtomic, writeJsonAtomic } from "../../protocol/atomic-fs.ts";
import { errnoCode, isProtocolError } from "../../protocol/errors.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("atomic-fs");
const ATOMIC_FS_URL = pathToFileURL(join(import.meta.dirname, "../../protocol/atomic-fs.ts")).href;

async function atomizerTemps(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith(".atomizer-") && name.endsWith(".tmp"));
}

// A child process rewrites the file; versions differ in length, so a torn read cannot parse as a whole.
const WRITER = `
import { writeJsonAtomic } from ${JSON.stringify(ATOMIC_FS_URL)};
const [target, count] = process.argv.slice(2);
for (let version = 1; version <= Number(count); version++) {
  const rows = Array.from({ length: 3000 + (version % 7) * 150 }, (_, k) => ({ k, v: version * k }));
  await writeJsonAtomic(target, { version, rows, end: version });
}
`;

describe("writeJsonAtomic under concurrent readers", () => {
  it("readers never see partial JSON, and no temp file is left behind", async () => {
    const dir = await tempDir();
    const target = join(dir, "job.json");
    const writes = 300;
    await writeJsonAtomic(target, { version: 0, rows: [], end: 0 });
    const script = join(dir, "writer.mjs");
    await writeFile(script, WRITER);

    let writerDone = false;
    const failures: string[] = [];
    const versionsSeen = new Set<number>();
    let reads = 0;
    let largest = 0;
    const check = (text: string | unknown, how: string) => {
      try {
        const value = (typeof text === "string" ? JSON.parse(text) : text) as {
          version: number;
          rows: unknown[];
          end: number;
        };
        if (value.version !== value.end) failures.push(`${how}: version ${value.version} ends ${value.end}`);
        versionsSeen.add(value.version);
        if (typeof text === "string") largest = Math.max(largest, text.length);
      } catch (error) {
        failures.push(`${how}: ${(error as Error).message}`);
      }
      reads++;
    };
    const rawReader = async () => {
      while (!writerDone) {
        try {
          check(await readFile(target, "utf8"), "readFile");
        } catch (error) {
          failures.push(`readFile: ${(error as Error).message}`);
        }
      }
    };
    const protocolReader = async () => {
      while (!writerDone) {
        try {
          check(await readJsonFile(target), "readJsonFile");
        } catch (error) {
          failures.push(`readJsonFile: ${(error as Error).message}`);
        }
      }
    };

    const writer = spawn(process.execPath, [script, target, String(writes)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    writer.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = once(writer, "exit").then(([code]) => {
      writerDone = true;
      return code as number | null;
    });
    const readers = Promise.all([rawReader(), rawReader(), protocolReader()]);
    const code = await exited;
    await readers;

    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    // The readers really overlapped the writer, on files of about 200 KB.
    expect(versionsSeen.size).toBeGreaterThan(1);
    expect(largest).toBeGreaterThan(150_000);
    expect(((await readJsonFile(target)) as { version: number }).version).toBe(writes);
    expect(await atomizerTemps(dir)).toEqual([]);
  });
});

describe("writeFileAtomic", () => {
  it("writes and replaces a file's whole content", async () => {
    const dir = await tempDir();
    const target = join(dir, "stdout.log");
    await writeFileAtomic(target, "first\n");
    await writeFileAtomic(target, new Uint8Array([0x73, 0x65, 0x63, 0x6f, 0x6e, 0x64]));
    expect(await readFile(target, "utf8")).toBe("second");
    expect(await readdir(dir)).toEqual(["stdout.log"]);
  });

  it("removes its temp file when the rename fails", async () => {
    const dir = await tempDir();
    // A non-empty folder in the way: rename fails with EISDIR/EPERM, which is not retried forever.
    const target = join(dir, "3_results");
    await mkdir(target);
    await writeFile(join(target, "keep.txt"), "kept");
    await expect(writeFileAtomic(target, "x")).rejects.toSatisfy(
      (error: unknown) => errnoCode(error) !== undefined,
    );
    expect(await atomizerTemps(dir)).toEqual([]);
    expect(await readFile(join(target, "keep.txt"), "utf8")).toBe("kept");
  });

  it("lets a missing folder through as ENOENT", async () => {
    const dir = await tempDir();
    await expect(writeFileAtomic(join(dir, "missing", "job.json"), "{}")).rejects.toSatisfy(
      (error: unknown) => errnoCode(error) === "ENOENT",
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it("writes JSON indented with a final newline", async () => {
    const dir = await tempDir();
    await writeJsonAtomic(join(dir, "a.json"), { a: [1] });
    expect(await readFile(join(dir, "a.json"), "utf8")).toBe('{\n  "a": [\n    1\n  ]\n}\n');
  });
});

describe("tempPathFor", () => {
  it("names an ignorable temp file beside the target, unique per call", () => {
    const target = join("queue", "inbox", "job-20260210-143022-wfe", "job.json");
    const first = tempPathFor(target);
    const second = tempPathFor(target);
    expect(dirname(first)).toBe(dirname(target));
    expect(basename(first)).toMatch(
      new RegExp(`^\\.atomizer-job\\.json\\.${process.pid}-[0-9a-f]{8}\\.tmp$`),
    );
    expect(first).not.toBe(second);
  });
});

describe("readJsonFile", () => {
  it("names the file when it is not JSON", async () => {
    const dir = await tempDir();
    const path = join(dir, "broken.json");
    await writeFile(path, "{ not json");
    await expect(readJsonFile(path)).rejects.toSatisfy(
      (error: unknown) =>
        isProtocolError(error, "invalid_job") &&
        (error as Error).message.startsWith(`${path} is not valid JSON`),
    );
  });

  it("lets ENOENT through", async () => {
    const dir = await tempDir();
    await expect(readJsonFile(join(dir, "none.json"))).rejects.toSatisfy(
      (error: unknown) => errnoCode(error) === "ENOENT",
    );
  });
});
