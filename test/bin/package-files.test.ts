// What `npm pack` ships holds every file the package's entry points load: an installed package has
// no TypeScript sources (Node refuses to strip types under node_modules), only dist/.
import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../helpers/atomizer-jobs.ts";

interface PackageJson {
  bin: Record<string, string>;
  openclaw: { extensions: string[] };
}

let shipped: Set<string>;
let pkg: PackageJson;

beforeAll(async () => {
  // --ignore-scripts: the list without building (dist/ is listed only when a build is there).
  const { stdout } = await execa("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: REPO });
  const [packed] = JSON.parse(stdout) as [{ files: { path: string }[] }];
  shipped = new Set(packed.files.map((file) => file.path));
  pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as PackageJson;
});

/** The relative modules a plain JavaScript file imports statically. */
async function relativeImports(path: string): Promise<string[]> {
  const text = await readFile(join(REPO, path), "utf8");
  return [...text.matchAll(/^import [^;]*? from "(\.{1,2}\/[^"]+)";$/gm)].map((match) =>
    posix.join(posix.dirname(path), match[1] as string),
  );
}

describe("the packed package", () => {
  it("ships the program's and the plugin's JavaScript entries, and what they import", async () => {
    const entries = [
      ...Object.values(pkg.bin),
      ...pkg.openclaw.extensions.map((entry) => posix.normalize(entry)),
    ];
    expect(entries).toEqual(["bin/atomizer-jobs.js", "plugin/openclaw-entry.js"]);
    const seen = new Set<string>();
    const queue = [...entries];
    while (queue.length > 0) {
      const path = queue.pop() as string;
      if (seen.has(path)) continue;
      seen.add(path);
      expect({ path, shipped: shipped.has(path) }).toEqual({ path, shipped: true });
      queue.push(...(await relativeImports(path)));
    }
    expect([...seen].sort()).toEqual([
      "bin/atomizer-jobs.js",
      "bin/build-stamp.js",
      "bin/choose-entry.js",
      "bin/memory-flags.js",
      "plugin/openclaw-entry.js",
    ]);
  });

  it("ships no TypeScript source of the program: an installed package runs dist/", () => {
    // examples/ are read, and run from a checkout (npm run demo).
    const sources = [...shipped].filter(
      (path) => path.endsWith(".ts") && !path.endsWith(".d.ts") && !path.startsWith("examples/"),
    );
    expect(sources).toEqual([]);
    expect(shipped.has("openclaw.plugin.json")).toBe(true);
  });
});
