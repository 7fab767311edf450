// `npm run build` (scripts/build.js) on a copy of the sources, then the program run from that copy:
// the compiled build while it matches the sources, the sources (with a warning) once one changes.
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../helpers/atomizer-jobs.ts";

const COPIED = ["bin", "scripts", "protocol", "submitter", "runner", "plugin", "cli"];
const CONFIGS = ["package.json", "tsconfig.json", "tsconfig.build.json"];
let copy: string;

beforeAll(async () => {
  copy = await mkdtemp(join(tmpdir(), "atomizer-build-"));
  for (const name of [...COPIED, ...CONFIGS])
    await cp(join(REPO, name), join(copy, name), { recursive: true });
  await symlink(join(REPO, "node_modules"), join(copy, "node_modules"), "junction");
  await execa(process.execPath, [join(copy, "scripts", "build.js")], { cwd: copy });
  // Marks the compiled build, so a run shows which one answered (the stamp records only the sources).
  const version = join(copy, "dist", "protocol", "version.js");
  const text = await readFile(version, "utf8");
  await writeFile(
    version,
    text.replace(
      "export function packageVersion() {",
      'export function packageVersion() {\n    return "compiled";',
    ),
  );
}, 180_000);

afterAll(async () => {
  if (copy) await rm(copy, { recursive: true, force: true });
});

async function version(env: Record<string, string> = {}) {
  const { ATOMIZER_RUN_FROM: _tests, ...inherited } = process.env;
  const run = await execa(process.execPath, [join(copy, "bin", "atomizer-jobs.js"), "--version"], {
    env: { ...inherited, ...env },
    extendEnv: false,
    reject: false,
  });
  return { code: run.exitCode, stdout: run.stdout, warned: run.stderr.includes("npm run build") };
}

describe("npm run build, then the program", () => {
  it("runs the compiled build it just made, and the sources when asked", async () => {
    expect(await version()).toEqual({ code: 0, stdout: "compiled", warned: false });
    expect(await version({ ATOMIZER_RUN_FROM: "sources" })).toEqual({
      code: 0,
      stdout: "0.1.0",
      warned: false,
    });
  });

  it("runs the sources, saying so, once a source changed; dist/ only when forced", async () => {
    await writeFile(join(copy, "cli", "extra.ts"), "export const extra = 1;\n");
    const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { version: string };
    expect(await version()).toEqual({ code: 0, stdout: pkg.version, warned: true });
    expect(await version({ ATOMIZER_RUN_FROM: "dist" })).toEqual({
      code: 0,
      stdout: "compiled",
      warned: false,
    });
  });
});

describe("npm run build without TypeScript (npm ci --omit=dev)", () => {
  it.each([
    {
      command: "ci",
      code: 0,
      stderr: "build: TypeScript is not installed; dist/ is not built, the sources run\n",
    },
    { command: "pack", code: 1, stderr: "build: TypeScript is not installed; dist/ is not built\n" },
  ])("under npm $command exits $code, saying so", async ({ command, code, stderr }) => {
    const bare = await mkdtemp(join(tmpdir(), "atomizer-build-bare-"));
    try {
      for (const name of ["bin", "scripts"])
        await cp(join(REPO, name), join(bare, name), { recursive: true });
      const run = await execa(process.execPath, [join(bare, "scripts", "build.js")], {
        env: { npm_command: command },
        reject: false,
      });
      expect({ code: run.exitCode, stderr: `${run.stderr}\n` }).toEqual({ code, stderr });
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });
});
