// Hostile corpus, protocol side: links, FIFOs, sockets and folders where a queue file belongs, files
// swapped for links between a check and the copy, and writes the disk does not complete. Nothing may
// hang, follow a link out of its folder, or lose bytes silently.

import type { FileHandle } from "node:fs/promises";
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import {
  copyAndHashFile,
  hashFile,
  isProtocolError,
  openRegularFile,
  readJob,
  readJsonFile,
  verifyManifest,
  writeAll,
} from "../../protocol/index.ts";
import { jobIdFor, mkfifo, mkSocket, POSIX, validJob } from "../helpers/hostile-fs.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("hostile-files");
const ID = jobIdFor("hostile");
const SECRET = "root:x:0:0:secret-outside-the-queue\n";
const sockets: { close: () => void }[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

async function refusal(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a refusal, but it was accepted");
}

type Kind =
  | "symlink to a file outside"
  | "symlink to a folder"
  | "dangling symlink"
  | "FIFO"
  | "socket"
  | "folder";

/** Puts a `kind` at `path`; `outside` holds a secret file a link may point at. */
async function plant(kind: Kind, path: string, outside: string): Promise<void> {
  if (kind === "symlink to a file outside") await symlink(join(outside, "secret"), path);
  else if (kind === "symlink to a folder") await symlink(outside, path);
  else if (kind === "dangling symlink") await symlink(join(outside, "nothing-here"), path);
  else if (kind === "FIFO") mkfifo(path);
  else if (kind === "socket") sockets.push(await mkSocket(path));
  else await mkdir(path);
}

const KINDS: [Kind, RegExp][] = [
  ["symlink to a file outside", /a symbolic link/],
  ["symlink to a folder", /a symbolic link/],
  ["dangling symlink", /a symbolic link/],
  ["FIFO", /a FIFO \(named pipe\)/],
  ["socket", /a socket/],
  ["folder", /a folder/],
];

interface Reader {
  name: string;
  read: (dir: string, file: string) => Promise<unknown>;
}

const READERS: Reader[] = [
  { name: "readJob", read: (dir) => readJob(dir) },
  { name: "readJsonFile", read: (_dir, file) => readJsonFile(file) },
  { name: "hashFile", read: (_dir, file) => hashFile(file) },
  { name: "copyAndHashFile", read: (dir, file) => copyAndHashFile(file, join(dir, "..", "copy")) },
  { name: "openRegularFile", read: (_dir, file) => openRegularFile(file).then((h) => h.close()) },
];

async function setup(): Promise<{ dir: string; outside: string; file: string }> {
  const base = await tempDir();
  const outside = join(base, "outside");
  await mkdir(outside);
  await writeFile(join(outside, "secret"), SECRET);
  const dir = join(base, "queue", ID);
  await mkdir(dir, { recursive: true });
  return { dir, outside, file: join(dir, "job.json") };
}

describe.skipIf(!POSIX)("a link or special file as job.json is refused by every reader, unopened", () => {
  const cases = KINDS.flatMap(([kind, what]) =>
    READERS.map((reader) => [kind, reader.name, what, reader] as const),
  );
  test.each(cases)(
    "%s, read by %s",
    async (kind, _name, what, reader) => {
      const { dir, outside, file } = await setup();
      await plant(kind, file, outside);
      const error = await refusal(() => reader.read(dir, file));
      expect(isProtocolError(error, "unsafe_file")).toBe(true);
      expect(error.message).toMatch(what);
      expect(error.message).toContain("replace it with the real file or remove it");
      expect(error.message).not.toContain("secret-outside");
    },
    5000,
  );
});

describe.skipIf(!POSIX)("links on the way to a queue file", () => {
  test("a job folder that is a link to a folder holding a valid job.json", async () => {
    const { dir, outside } = await setup();
    await writeFile(join(outside, "job.json"), JSON.stringify(validJob(ID)));
    const linked = join(dir, "..", jobIdFor("linked"));
    await symlink(outside, linked);
    const error = await refusal(() => readJob(linked));
    expect(isProtocolError(error, "unsafe_file")).toBe(true);
    expect(error.message).toContain("job folder");
    expect(error.message).toContain("remove it");
  });

  test.each([
    ["3_results/ linked to a folder outside", "3_results", "3_results/secret"],
    ["a nested folder linked outside", "a/b", "a/b/secret"],
  ])("openRegularFile within the job folder: %s", async (_label, link, path) => {
    const { dir, outside } = await setup();
    await mkdir(join(dir, link, ".."), { recursive: true });
    await symlink(outside, join(dir, link));
    const error = await refusal(() => openRegularFile(join(dir, ...path.split("/")), { within: dir }));
    expect(isProtocolError(error, "unsafe_file")).toBe(true);
    expect(error.message).toContain("reached through a linked folder");
  });

  test("verifyManifest does not count a file reached through a linked folder", async () => {
    const { dir, outside } = await setup();
    await symlink(outside, join(dir, "3_results"));
    const sha = (await hashFile(join(outside, "secret"))).sha256;
    const check = await verifyManifest(dir, [{ path: "3_results/secret", size: SECRET.length, sha256: sha }]);
    expect(check.complete).toBe(false);
    expect(check.not_a_file).toEqual(["3_results/secret"]);
    expect(check.unsupported).toEqual(["3_results"]);
  });

  test("a regular file inside the folder still opens, within its folder", async () => {
    const { dir } = await setup();
    await writeFile(join(dir, "stdout.log"), "hello\n");
    const handle = await openRegularFile(join(dir, "stdout.log"), { within: dir });
    expect((await handle.readFile("utf8")).toString()).toBe("hello\n");
    await handle.close();
  });
});

describe.skipIf(!POSIX)("a study file swapped after it was checked, before copyAndHashFile runs", () => {
  async function study() {
    const { dir, outside } = await setup();
    await mkdir(join(dir, "1_setup"));
    await writeFile(join(dir, "1_setup", "model.prt"), "the real model\n");
    return {
      root: dir,
      outside,
      source: join(dir, "1_setup", "model.prt"),
      target: join(dir, "..", "staged", "model.prt"),
    };
  }

  test.each([
    [
      "the file for a link to a file outside --allow",
      async (s: Awaited<ReturnType<typeof study>>) => {
        await rm(s.source);
        await symlink(join(s.outside, "secret"), s.source);
      },
      /a symbolic link/,
    ],
    [
      "its folder for a link to a folder outside",
      async (s: Awaited<ReturnType<typeof study>>) => {
        await writeFile(join(s.outside, "model.prt"), SECRET);
        await rm(join(s.root, "1_setup"), { recursive: true });
        await symlink(s.outside, join(s.root, "1_setup"));
      },
      /reached through a linked folder/,
    ],
    [
      "the file for a FIFO",
      async (s: Awaited<ReturnType<typeof study>>) => {
        await rm(s.source);
        mkfifo(s.source);
      },
      /FIFO/,
    ],
    [
      "the file for a socket",
      async (s: Awaited<ReturnType<typeof study>>) => {
        await rm(s.source);
        sockets.push(await mkSocket(s.source));
      },
      /socket/,
    ],
  ])(
    "swapping %s is refused and nothing is copied",
    async (_label, swap, what) => {
      const s = await study();
      await swap(s);
      const error = await refusal(() => copyAndHashFile(s.source, s.target, { within: s.root }));
      expect(isProtocolError(error, "unsafe_file")).toBe(true);
      expect(error.message).toMatch(what);
      const staged = await readdir(join(s.target, "..")).catch(() => []);
      for (const name of staged)
        expect(await readFile(join(s.target, "..", name), "utf8")).not.toContain("secret");
    },
    5000,
  );

  test("a file replaced by another regular file inside the study is copied as it is now", async () => {
    const s = await study();
    await writeFile(`${s.source}.new`, "a newer model\n");
    await rename(`${s.source}.new`, s.source);
    const hashed = await copyAndHashFile(s.source, s.target, { within: s.root });
    expect(await readFile(s.target, "utf8")).toBe("a newer model\n");
    expect(hashed.size).toBe("a newer model\n".length);
  });

  test("a link planted at the copy's target is not followed", async () => {
    const s = await study();
    await mkdir(join(s.target, ".."), { recursive: true });
    await symlink(join(s.outside, "secret"), s.target);
    const error = await refusal(() => copyAndHashFile(s.source, s.target, { within: s.root }));
    expect((error as { code?: string }).code).toBe("ELOOP");
    expect(await readFile(join(s.outside, "secret"), "utf8")).toBe(SECRET);
  });
});

/** A FileHandle stand-in whose write() takes at most `step` bytes per call (0: the disk is full). */
function shortWriter(step: number) {
  const taken: number[] = [];
  const handle = {
    write: async (data: Uint8Array, offset: number, length: number) => {
      const n = Math.min(step, length);
      taken.push(...data.subarray(offset, offset + n));
      return { bytesWritten: n, buffer: data };
    },
  } as unknown as FileHandle;
  return { handle, taken };
}

describe("short writes are continued or fail loudly, never lost", () => {
  test.each([1, 3, 7, 4096])("a filesystem taking %i bytes per write gets every byte", async (step) => {
    const data = Buffer.from(`${"x".repeat(10_000)}the end`);
    const { handle, taken } = shortWriter(step);
    await writeAll(handle, data, "target");
    expect(Buffer.from(taken).equals(data)).toBe(true);
  });

  test("a filesystem that stops taking bytes fails with ENOSPC, naming how far it got", async () => {
    const { handle } = shortWriter(0);
    const error = (await refusal(() => writeAll(handle, Buffer.from("data"), "outbox/x"))) as Error & {
      code?: string;
    };
    expect(error.code).toBe("ENOSPC");
    expect(error.message).toContain("took 0 of 4 bytes");
    expect(error.message).toContain("free space");
  });

  // 8 MiB: the write of the first chunk fails while the read of the next is still running; the
  // source must stay open until that read ends (no read on a closed or reused descriptor).
  test.skipIf(process.platform !== "linux").each([256 * 1024, 8 * 1024 * 1024])(
    "copyAndHashFile of %i bytes onto a full disk (/dev/full) fails loudly",
    async (size) => {
      const { dir } = await setup();
      await writeFile(join(dir, "big"), Buffer.alloc(size, 1));
      const unhandled: unknown[] = [];
      const record = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on("unhandledRejection", record);
      try {
        const error = (await refusal(() => copyAndHashFile(join(dir, "big"), "/dev/full"))) as Error & {
          code?: string;
        };
        expect(error.code).toBe("ENOSPC");
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(unhandled).toEqual([]);
      } finally {
        process.off("unhandledRejection", record);
      }
    },
  );
});
