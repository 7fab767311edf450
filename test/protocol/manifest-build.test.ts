// buildManifest (every job file with its size and a sha256 an independent tool agrees with) and
// listJobTree (job files kept apart from Syncthing markers, temp files, conflict copies and links).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildManifest, listJobTree } from "../../protocol/manifest.ts";
import { useTempDirs } from "./fixtures.ts";
import { BIG_SIZE, EMPTY_SHA, HELLO_SHA, makeJob, writeBigFile } from "./helpers/manifest-job.ts";

const tempDir = useTempDirs("manifest");

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
