import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import {
  appendFile,
  mkdir,
  open,
  readFile,
  rename,
  rm,
  symlink,
  truncate,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import type { FileEntry } from "../../protocol/job-schema.ts";
import type { ManifestCheck } from "../../protocol/manifest.ts";
import {
  buildManifest,
  copyAndHashFile,
  describeManifestCheck,
  hashFile,
  listJobTree,
  verifyManifest,
} from "../../protocol/manifest.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("manifest");

const EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// printf 'hello\n' | openssl dgst -sha256
const HELLO_SHA = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
const BIG_SIZE = 5 * 1024 * 1024;

/** Writes `size` bytes of a repeating, position-dependent pattern in 64 KiB chunks; returns its sha256. */
async function writeBigFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  const chunkSize = 64 * 1024;
  for (let offset = 0; offset < size; offset += chunkSize) {
    const chunk = Buffer.alloc(Math.min(chunkSize, size - offset));
    for (let i = 0; i < chunk.length; i++) chunk[i] = ((offset + i) * 31 + ((offset + i) >> 12)) & 0xff;
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, "drain");
  }
  out.end();
  await finished(out);
  return hash.digest("hex");
}

/** sha256 as an independent tool computes it: openssl when installed, else node crypto over the whole file. */
async function referenceSha256(path: string): Promise<string> {
  try {
    const out = execFileSync("openssl", ["dgst", "-sha256", path], { encoding: "utf8" });
    const hex = /= ([0-9a-f]{64})\s*$/.exec(out)?.[1];
    if (hex) return hex;
  } catch {
    // no openssl on this host
  }
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/** A small job folder: nested files, an empty file, and a root job.json that is not a job file. */
async function makeJob(root: string): Promise<FileEntry[]> {
  await mkdir(join(root, "1_setup", "deep", "er"), { recursive: true });
  await writeFile(join(root, "job.json"), "{}");
  await writeFile(join(root, "README.md"), "hello\n");
  await writeFile(join(root, "run_optimization.py"), "print('run')\n");
  await writeFile(join(root, "1_setup", "m1.prt"), "x".repeat(1000));
  await writeFile(join(root, "1_setup", "empty.fem"), "");
  await writeFile(join(root, "1_setup", "deep", "er", "model.sim"), "sim");
  return buildManifest(root);
}

describe("buildManifest", () => {
  it("lists every file but the root job.json, sorted, with sizes and sha256 an independent tool agrees with", async () => {
    const root = await tempDir();
    await mkdir(join(root, "1_setup", "deep"), { recursive: true });
    await mkdir(join(root, "empty-folder"));
    await writeFile(join(root, "job.json"), "{}");
    await writeFile(join(root, "README.md"), "hello\n");
    await writeFile(join(root, "1_setup", "empty.fem"), "");
    await writeFile(join(root, "1_setup", "deep", "job.json"), "nested job.json is a job file");
    const bigSha = await writeBigFile(join(root, "1_setup", "m1_mirror_fem1_i.prt"), BIG_SIZE);

    const manifest = await buildManifest(root);
    expect(manifest.map((entry) => entry.path)).toEqual([
      "1_setup/deep/job.json",
      "1_setup/empty.fem",
      "1_setup/m1_mirror_fem1_i.prt",
      "README.md",
    ]);
    const byPath = new Map(manifest.map((entry) => [entry.path, entry]));
    expect(byPath.get("README.md")).toEqual({ path: "README.md", size: 6, sha256: HELLO_SHA });
    expect(byPath.get("1_setup/empty.fem")).toEqual({
      path: "1_setup/empty.fem",
      size: 0,
      sha256: EMPTY_SHA,
    });
    const big = byPath.get("1_setup/m1_mirror_fem1_i.prt");
    expect(big?.size).toBe(BIG_SIZE);
    expect(big?.sha256).toBe(bigSha);
    expect(big?.sha256).toBe(await referenceSha256(join(root, "1_setup", "m1_mirror_fem1_i.prt")));
    for (const entry of manifest) {
      expect(entry.sha256).toBe(await referenceSha256(join(root, ...entry.path.split("/"))));
    }
  });

  it("hashes exactly the paths it is given, sorted", async () => {
    const root = await tempDir();
    await makeJob(root);
    expect((await buildManifest(root, ["run_optimization.py", "README.md"])).map((e) => e.path)).toEqual([
      "README.md",
      "run_optimization.py",
    ]);
  });
});

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
});

describe("listJobTree", () => {
  it("keeps job files apart from Syncthing markers, temp files, conflict copies and links", async () => {
    const root = await tempDir();
    await makeJob(root);
    await mkdir(join(root, ".stfolder"));
    await mkdir(join(root, ".stversions", "1_setup"), { recursive: true });
    await writeFile(join(root, ".stversions", "1_setup", "m1~20260210-143022.prt"), "old");
    await writeFile(join(root, ".stignore"), "");
    await writeFile(join(root, "1_setup", ".syncthing.m1.prt.tmp"), "par");
    await writeFile(join(root, "~syncthing~README.md.tmp"), "he");
    await writeFile(join(root, ".atomizer-job.json.1-ab.tmp"), "{");
    await writeFile(join(root, "README.sync-conflict-20260210-143022-ABCDEF7.md"), "theirs");
    if (process.platform !== "win32") await symlink("README.md", join(root, "link.md"));

    expect(await listJobTree(root)).toEqual({
      files: [
        "1_setup/deep/er/model.sim",
        "1_setup/empty.fem",
        "1_setup/m1.prt",
        "README.md",
        "run_optimization.py",
      ],
      conflicts: ["README.sync-conflict-20260210-143022-ABCDEF7.md"],
      temps: [".atomizer-job.json.1-ab.tmp", "1_setup/.syncthing.m1.prt.tmp", "~syncthing~README.md.tmp"],
      unsupported: process.platform === "win32" ? [] : ["link.md"],
    });
  });
});

/** A way to disturb a complete job folder, and what verifyManifest must then say. */
interface VerifyCase {
  name: string;
  disturb: (root: string) => Promise<void>;
  expected: Partial<ManifestCheck>;
  /** Words describeManifestCheck must use; undefined when nothing is wrong with the job files. */
  described?: RegExp;
  options?: { sizesOnly?: boolean };
  posixOnly?: boolean;
}

const VERIFY_CASES: VerifyCase[] = [
  { name: "complete", disturb: async () => {}, expected: { complete: true } },
  {
    name: "a missing file",
    disturb: (root) => rm(join(root, "1_setup", "m1.prt")),
    expected: { complete: false, missing: ["1_setup/m1.prt"] },
    described: /^missing: 1_setup\/m1\.prt$/,
  },
  {
    name: "a missing folder",
    disturb: (root) => rm(join(root, "1_setup"), { recursive: true }),
    expected: {
      complete: false,
      missing: ["1_setup/deep/er/model.sim", "1_setup/empty.fem", "1_setup/m1.prt"],
    },
    described: /missing: 1_setup\/deep\/er\/model\.sim, 1_setup\/empty\.fem, 1_setup\/m1\.prt/,
  },
  {
    name: "a short (partially written) file",
    disturb: (root) => truncate(join(root, "1_setup", "m1.prt"), 400),
    expected: { complete: false, short: [{ path: "1_setup/m1.prt", expected: 1000, actual: 400 }] },
    described: /incomplete: 1_setup\/m1\.prt \(400 of 1000 bytes\)/,
  },
  {
    name: "an oversized file",
    disturb: (root) => appendFile(join(root, "README.md"), "more"),
    expected: { complete: false, oversized: [{ path: "README.md", expected: 6, actual: 10 }] },
    described: /larger than listed: README\.md \(10, expected 6\)/,
  },
  {
    name: "a file with the right size and the wrong content",
    disturb: async (root) => {
      const handle = await open(join(root, "1_setup", "m1.prt"), "r+");
      await handle.write("y", 500);
      await handle.close();
    },
    expected: { complete: false, hash_mismatch: ["1_setup/m1.prt"] },
    described: /content differs \(sha256\): 1_setup\/m1\.prt/,
  },
  {
    name: "wrong content in sizesOnly mode (no hashing)",
    disturb: (root) => writeFile(join(root, "1_setup", "m1.prt"), "z".repeat(1000)),
    options: { sizesOnly: true },
    expected: { complete: true, hash_mismatch: [] },
  },
  {
    name: "a short file in sizesOnly mode",
    disturb: (root) => truncate(join(root, "README.md"), 0),
    options: { sizesOnly: true },
    expected: { complete: false, short: [{ path: "README.md", expected: 6, actual: 0 }] },
    described: /incomplete: README\.md \(0 of 6 bytes\)/,
  },
  {
    name: "a listed file Syncthing is still writing (POSIX temp name)",
    disturb: async (root) => {
      await rm(join(root, "1_setup", "m1.prt"));
      await writeFile(join(root, "1_setup", ".syncthing.m1.prt.tmp"), "x".repeat(1000));
    },
    expected: {
      complete: false,
      missing: ["1_setup/m1.prt"],
      in_transit: ["1_setup/m1.prt"],
      unexpected: [],
    },
    described: /missing: 1_setup\/m1\.prt/,
  },
  {
    name: "a listed file Syncthing is still writing (Windows temp name)",
    disturb: async (root) => {
      await rm(join(root, "README.md"));
      await writeFile(join(root, "~syncthing~README.md.tmp"), "hel");
    },
    expected: { complete: false, missing: ["README.md"], in_transit: ["README.md"], unexpected: [] },
    described: /missing: README\.md/,
  },
  {
    name: "Syncthing markers and our own temp files",
    disturb: async (root) => {
      await mkdir(join(root, ".stfolder"));
      await writeFile(join(root, ".stignore"), ".atomizer-*.tmp\n");
      await mkdir(join(root, ".stversions"));
      await writeFile(join(root, "1_setup", ".atomizer-m1.prt.1-ab.tmp"), "partial");
    },
    expected: { complete: true, unexpected: [], in_transit: [], unsupported: [] },
  },
  {
    name: "a conflict copy",
    disturb: (root) =>
      writeFile(join(root, "1_setup", "m1.sync-conflict-20260210-143022-ABCDEF7.prt"), "theirs"),
    expected: {
      complete: true,
      conflicts: ["1_setup/m1.sync-conflict-20260210-143022-ABCDEF7.prt"],
      unexpected: [],
    },
    described: /Syncthing conflict copies: 1_setup\/m1\.sync-conflict-20260210-143022-ABCDEF7\.prt/,
  },
  {
    name: "a file not in the manifest",
    disturb: (root) => writeFile(join(root, "notes.txt"), "extra"),
    expected: { complete: true, unexpected: ["notes.txt"] },
  },
  {
    name: "a symlink beside the job files",
    disturb: (root) => symlink(join(root, "README.md"), join(root, "1_setup", "link.prt")),
    expected: { complete: true, unsupported: ["1_setup/link.prt"], unexpected: [] },
    described: /links or special files: 1_setup\/link\.prt/,
    posixOnly: true,
  },
  {
    name: "a listed file replaced by a symlink to the same content",
    disturb: async (root) => {
      await rename(join(root, "README.md"), join(root, "..", `${rootName(root)}-readme`));
      await symlink(join(root, "..", `${rootName(root)}-readme`), join(root, "README.md"));
    },
    expected: { complete: false, not_a_file: ["README.md"], unsupported: ["README.md"] },
    described: /not a regular file: README\.md/,
    posixOnly: true,
  },
  {
    name: "a listed file replaced by a folder",
    disturb: async (root) => {
      await rm(join(root, "README.md"));
      await mkdir(join(root, "README.md"));
    },
    expected: { complete: false, not_a_file: ["README.md"] },
    described: /not a regular file: README\.md/,
  },
];

function rootName(root: string): string {
  return root.split(/[\\/]/).pop() ?? "job";
}

const CLEAN: Omit<ManifestCheck, "complete"> = {
  missing: [],
  short: [],
  oversized: [],
  hash_mismatch: [],
  in_transit: [],
  unexpected: [],
  conflicts: [],
  unsupported: [],
  not_a_file: [],
};

describe("verifyManifest", () => {
  it.each(
    VERIFY_CASES.filter((c) => !(c.posixOnly && process.platform === "win32")).map(
      (c) => [c.name, c] as const,
    ),
  )("%s", async (_name, { disturb, expected, described, options }) => {
    const parent = await tempDir();
    const root = join(parent, "job-20260210-143022-wfe");
    await mkdir(root);
    const manifest = await makeJob(root);
    await disturb(root);
    const check = await verifyManifest(root, manifest, options);
    expect(check).toEqual({ ...CLEAN, ...expected });
    const sentence = describeManifestCheck(check);
    if (described) expect(sentence).toMatch(described);
    else expect(sentence).toBe("all files present and verified");
  });

  it("reports files of the manifest that exist nowhere as missing when the folder is empty", async () => {
    const root = await tempDir();
    const manifest: FileEntry[] = [{ path: "a/b.prt", size: 1, sha256: EMPTY_SHA }];
    const check = await verifyManifest(root, manifest);
    expect(check.missing).toEqual(["a/b.prt"]);
    expect(check.complete).toBe(false);
  });
});

describe("describeManifestCheck", () => {
  it("names several problems in one sentence and shortens long lists", () => {
    const missing = Array.from({ length: 13 }, (_, i) => `f${i}.prt`);
    const sentence = describeManifestCheck(
      {
        ...CLEAN,
        complete: false,
        missing,
        short: [{ path: "a.prt", expected: 10, actual: 3 }],
        unsupported: ["link"],
      },
      10,
    );
    expect(sentence).toBe(
      "missing: f0.prt, f1.prt, f2.prt, f3.prt, f4.prt, f5.prt, f6.prt, f7.prt, f8.prt, f9.prt and 3 more; " +
        "incomplete: a.prt (3 of 10 bytes); links or special files: link",
    );
  });
});
