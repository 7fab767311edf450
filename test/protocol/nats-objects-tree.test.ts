// uploadTree, downloadTree and deleteObjects on a real nats-server: a job folder goes up as an index
// of objects and comes back equal; unchanged files are not sent again, links are never followed.
import { mkdir, readFile, readlink, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isProtocolError } from "../../protocol/errors.ts";
import type { NatsQueue } from "../../protocol/nats-connect.ts";
import { openNats } from "../../protocol/nats-connect.ts";
import type { FileIndex } from "../../protocol/nats-layout.ts";
import { deleteObjects, downloadTree, uploadTree } from "../../protocol/nats-objects.ts";
import type { RunningNats } from "../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../helpers/nats-server.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("nats-tree");

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, ...path.split("/"));
    await mkdir(join(full, ".."), { recursive: true });
    await writeFile(full, content);
  }
}

describe.runIf(natsServerPresent())("uploadTree, downloadTree, deleteObjects", () => {
  let server: RunningNats;
  let q: NatsQueue;
  beforeAll(async () => {
    server = await startNatsServer();
    q = await openNats({ url: server.url }, {});
  });
  afterAll(async () => {
    await q?.close();
    await server?.stop();
  });

  it("a job folder goes up without job.json, temps and links, and comes back equal", async () => {
    const source = await tempDir();
    await writeTree(source, {
      "job.json": "{}",
      "run_optimization.py": "print('go')\n",
      "1_setup/model.prt": "x".repeat(200_000),
      "1_setup/inner/job.json": "a nested job.json is a job file",
      "1_setup/.atomizer-model.prt.123-ab.tmp": "half written",
      "2_iterations/__init__.py": "",
    });
    await symlink("/etc/hostname", join(source, "1_setup", "escape.txt"));
    const index = await uploadTree(q, source, "job-tree", "sub");
    expect(index.map((e) => e.path)).toEqual([
      "1_setup/inner/job.json",
      "1_setup/model.prt",
      "2_iterations/__init__.py",
      "run_optimization.py",
    ]);
    expect(index[1]).toMatchObject({ size: 200_000, object: "job-tree/sub/1_setup/model.prt" });

    const target = await tempDir();
    await downloadTree(q, index, target);
    for (const entry of index) {
      expect(await readFile(join(target, ...entry.path.split("/")), "utf8")).toBe(
        await readFile(join(source, ...entry.path.split("/")), "utf8"),
      );
    }
    expect(await stat(join(target, "job.json")).catch(() => undefined)).toBeUndefined();
  });

  it("unchanged files are not sent again; a changed one is", async () => {
    const dir = await tempDir();
    await writeTree(dir, { "a.txt": "same\n", "b.txt": "before\n" });
    const first = await uploadTree(q, dir, "job-resend", "run");
    const infoA = await q.objects.info("job-resend/run/a.txt");
    const infoB = await q.objects.info("job-resend/run/b.txt");
    await writeFile(join(dir, "b.txt"), "after!\n"); // same size, other bytes
    await writeFile(join(dir, "c.txt"), "new\n");
    const second = await uploadTree(q, dir, "job-resend", "run", first);
    expect((await q.objects.info("job-resend/run/a.txt"))?.revision).toBe(infoA?.revision);
    expect((await q.objects.info("job-resend/run/b.txt"))?.revision).not.toBe(infoB?.revision);
    expect(second.map((e) => e.path)).toEqual(["a.txt", "b.txt", "c.txt"]);
    expect(second[0]).toEqual(first[0]);
    expect(second[1]?.sha256).not.toBe(first[1]?.sha256);
  });

  it("downloadTree writes what is missing or different, leaves equal files and unlisted ones alone", async () => {
    const source = await tempDir();
    await writeTree(source, { "keep.txt": "equal\n", "fix.txt": "right\n", "new/deep/file.txt": "new\n" });
    const index = await uploadTree(q, source, "job-down", "run");
    const target = await tempDir();
    await writeTree(target, {
      "keep.txt": "equal\n",
      "fix.txt": "wrong\n",
      "mine.txt": "not in the index\n",
    });
    const keptBefore = (await stat(join(target, "keep.txt"))).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await downloadTree(q, index, target);
    expect((await stat(join(target, "keep.txt"))).mtimeMs).toBe(keptBefore);
    expect(await readFile(join(target, "fix.txt"), "utf8")).toBe("right\n");
    expect(await readFile(join(target, "new", "deep", "file.txt"), "utf8")).toBe("new\n");
    expect(await readFile(join(target, "mine.txt"), "utf8")).toBe("not in the index\n");
  });

  it("a link where a file goes is replaced, never written through; a linked folder is refused", async () => {
    const source = await tempDir();
    await writeTree(source, { "out.txt": "from nats\n", "sub/in.txt": "inside\n" });
    const index = await uploadTree(q, source, "job-links", "run");
    const target = await tempDir();
    const outside = await tempDir();
    await writeFile(join(outside, "precious.txt"), "precious\n");
    await symlink(join(outside, "precious.txt"), join(target, "out.txt"));
    await symlink(outside, join(target, "sub"));
    const failure = await downloadTree(q, index, target).catch((e: unknown) => e);
    expect(isProtocolError(failure, "unsafe_file")).toBe(true);
    expect((failure as Error).message).toMatch(/sub is a symbolic link/);
    // out.txt came first: the link itself was replaced by the file, its target untouched
    expect(await readFile(join(target, "out.txt"), "utf8")).toBe("from nats\n");
    await expect(readlink(join(target, "out.txt"))).rejects.toThrow();
    expect(await readFile(join(outside, "precious.txt"), "utf8")).toBe("precious\n");
    await expect(stat(join(outside, "in.txt"))).rejects.toThrow();
  });

  it.each<[string, string]>([
    ["a path leading out", "../escape.txt"],
    ["an absolute path", "/etc/passwd"],
  ])("an index entry with %s is refused before anything is written", async (_what, path) => {
    const target = await tempDir();
    const index: FileIndex = [{ path, size: 1, sha256: "0".repeat(64), object: "job-x/run/x" }];
    const failure = await downloadTree(q, index, target).catch((e: unknown) => e);
    expect(isProtocolError(failure, "invalid_path")).toBe(true);
  });

  it("a download that fails its check leaves neither the file nor a temp behind", async () => {
    const source = await tempDir();
    await writeTree(source, { "f.txt": "content\n" });
    const [entry] = await uploadTree(q, source, "job-badidx", "run");
    if (!entry) throw new Error("no entry");
    const target = await tempDir();
    await expect(downloadTree(q, [{ ...entry, sha256: "f".repeat(64) }], target)).rejects.toThrow(
      /does not match its file index/,
    );
    const { readdir } = await import("node:fs/promises");
    expect(await readdir(target)).toEqual([]);
  });

  it("deleteObjects removes one side of one job only", async () => {
    const dir = await tempDir();
    await writeTree(dir, { "a.txt": "a\n", "b/c.txt": "c\n" });
    await uploadTree(q, dir, "job-del", "sub");
    await uploadTree(q, dir, "job-del", "run");
    await uploadTree(q, dir, "job-del-2", "run");
    await deleteObjects(q, "job-del", "run");
    const live = (await q.objects.list())
      .filter((i) => !i.deleted && i.name.startsWith("job-del"))
      .map((i) => i.name)
      .sort();
    expect(live).toEqual([
      "job-del-2/run/a.txt",
      "job-del-2/run/b/c.txt",
      "job-del/sub/a.txt",
      "job-del/sub/b/c.txt",
    ]);
    await expect(deleteObjects(q, "job-del", "run")).resolves.toBeUndefined();
  });
});
