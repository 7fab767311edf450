import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { describeSources, STAMP_FILE, stampIsCurrent } from "../../bin/build-stamp.js";
import { chooseEntry } from "../../bin/choose-entry.js";
import { runAtomizerJobs } from "../helpers/atomizer-jobs.ts";

const created: string[] = [];
afterEach(async () => {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A package root as a checkout has it after `npm run build`: sources, dist/ and its stamp. */
async function builtCheckout(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "atomizer-choose-entry-"));
  created.push(root);
  const files: Record<string, string> = {
    "tsconfig.json": "{}\n",
    "tsconfig.build.json": `${JSON.stringify({ include: ["cli", "plugin"] })}\n`,
    "cli/main.ts": "export const main = 1;\n",
    "cli/submitter/list.ts": "export const list = 2;\n",
    "plugin/plugin-entry.ts": "export default {};\n",
    "dist/cli/main.js": "export const main = 1;\n",
  };
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), text);
  }
  await writeFile(join(root, "dist", STAMP_FILE), JSON.stringify(describeSources(root)));
  return root;
}

type Change = (root: string) => Promise<void>;

const later = new Date(Date.now() + 60_000);
const none: Change = async () => {};
const touched: Change = (root) => utimes(join(root, "cli/main.ts"), later, later);
const edited: Change = (root) => writeFile(join(root, "cli/main.ts"), "export const main = 10;\n");
const sameSize: Change = async (root) => {
  await writeFile(join(root, "cli/main.ts"), "export const main = 9;\n");
  await utimes(join(root, "cli/main.ts"), later, later);
};
const added: Change = (root) => writeFile(join(root, "cli/submitter/new.ts"), "export {};\n");
const removed: Change = (root) => rm(join(root, "cli/submitter/list.ts"));
const newFolder: Change = async (root) => {
  await mkdir(join(root, "cli/runner"));
  await writeFile(join(root, "cli/runner/run.ts"), "export {};\n");
};
const configChanged: Change = (root) => writeFile(join(root, "tsconfig.json"), '{"compilerOptions":{}}\n');
const unstamped: Change = (root) => rm(join(root, "dist", STAMP_FILE));
const noDist: Change = (root) => rm(join(root, "dist"), { recursive: true });
const installed: Change = async (root) => {
  for (const folder of ["cli", "plugin"]) await rm(join(root, folder), { recursive: true });
};

describe("chooseEntry", () => {
  it.each<{ name: string; change: Change; from?: string; runs: "dist" | "sources"; warns: boolean }>([
    { name: "a fresh build", change: none, runs: "dist", warns: false },
    { name: "a source only touched (same content)", change: touched, runs: "dist", warns: false },
    { name: "an edited source", change: edited, runs: "sources", warns: true },
    { name: "a same-size edit", change: sameSize, runs: "sources", warns: true },
    { name: "an added source", change: added, runs: "sources", warns: true },
    { name: "a removed source", change: removed, runs: "sources", warns: true },
    { name: "a new source folder", change: newFolder, runs: "sources", warns: true },
    { name: "a changed tsconfig", change: configChanged, runs: "sources", warns: true },
    { name: "a build that never finished (no stamp)", change: unstamped, runs: "sources", warns: true },
    { name: "no dist/ at all", change: noDist, runs: "sources", warns: false },
    { name: "an installed package (dist/ only)", change: installed, runs: "dist", warns: false },
    {
      name: "ATOMIZER_RUN_FROM=sources on a fresh build",
      change: none,
      from: "sources",
      runs: "sources",
      warns: false,
    },
    {
      name: "ATOMIZER_RUN_FROM=dist on a stale build",
      change: edited,
      from: "dist",
      runs: "dist",
      warns: false,
    },
    {
      name: "ATOMIZER_RUN_FROM=auto on a stale build",
      change: edited,
      from: "auto",
      runs: "sources",
      warns: true,
    },
  ])("runs $runs for $name", async ({ change, from, runs, warns }) => {
    const root = await builtCheckout();
    await change(root);
    const warnings: string[] = [];
    const env = from === undefined ? {} : { ATOMIZER_RUN_FROM: from };
    const entry = chooseEntry(root, "cli/main", env, (line: string) => warnings.push(line));
    const expected = runs === "dist" ? join(root, "dist", "cli", "main.js") : join(root, "cli", "main.ts");
    expect(fileURLToPath(entry)).toBe(expected);
    expect(warnings.length > 0).toBe(warns);
    if (warns) expect(warnings[0]).toContain("npm run build");
  });

  it.each<{ name: string; change: Change; from: string; message: RegExp }>([
    { name: "dist forced but missing", change: noDist, from: "dist", message: /dist, but .* is missing/ },
    {
      name: "sources forced in an installed package",
      change: installed,
      from: "sources",
      message: /no sources/,
    },
    { name: "an unknown value", change: none, from: "src", message: /expected dist, sources or auto/ },
  ])("refuses $name", async ({ change, from, message }) => {
    const root = await builtCheckout();
    await change(root);
    expect(() => chooseEntry(root, "cli/main", { ATOMIZER_RUN_FROM: from }, () => {})).toThrow(message);
  });

  it("records what a build read, so the stamp of an unchanged tree is current", async () => {
    const root = await builtCheckout();
    const stamp = JSON.parse(await readFile(join(root, "dist", STAMP_FILE), "utf8"));
    expect(Object.keys(stamp.files).sort()).toEqual([
      "cli/main.ts",
      "cli/submitter/list.ts",
      "plugin/plugin-entry.ts",
      "tsconfig.build.json",
      "tsconfig.json",
    ]);
    expect(Object.keys(stamp.folders).sort()).toEqual(["cli", "cli/submitter", "plugin"]);
    expect(stampIsCurrent(root)).toBe(true);
  });
});

describe("bin/atomizer-jobs.js", () => {
  it("refuses an unknown ATOMIZER_RUN_FROM with exit 2 and says what it takes", async () => {
    const run = await runAtomizerJobs(["--version"], { env: { ...process.env, ATOMIZER_RUN_FROM: "src" } });
    expect(run).toEqual({
      code: 2,
      stdout: "",
      stderr: "atomizer-jobs: ATOMIZER_RUN_FROM=src: expected dist, sources or auto\n",
    });
  });
});
