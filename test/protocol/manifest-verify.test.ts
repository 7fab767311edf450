// verifyManifest over a table of ways a job folder can differ from its manifest (missing, short,
// oversized, wrong content, in transit, links, conflicts), and the sentence describeManifestCheck makes.
import { appendFile, mkdir, open, rename, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FileEntry } from "../../protocol/job-schema.ts";
import type { ManifestCheck } from "../../protocol/manifest.ts";
import { describeManifestCheck, verifyManifest } from "../../protocol/manifest.ts";
import { useTempDirs } from "./fixtures.ts";
import { EMPTY_SHA, makeJob } from "./helpers/manifest-job.ts";

const tempDir = useTempDirs("manifest");

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
