import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { COMMANDS } from "../../cli/commands.ts";
import type { CliRun } from "../helpers/atomizer-jobs.ts";
import { REPO, runAtomizerJobs } from "../helpers/atomizer-jobs.ts";

function atomizerJobs(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const { ATOMIZER_QUEUE_DIR: _ignored, ...inherited } = process.env;
  return runAtomizerJobs(args, { env: { ...inherited, ...env } });
}

const created: string[] = [];
afterEach(async () => {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "atomizer-cli-main-"));
  created.push(dir);
  return dir;
}

describe("atomizer-jobs (real child processes)", () => {
  it.each([["help"], ["--help"], ["-h"]])(
    "%s prints the usage with every command and exits 0",
    async (arg) => {
      const { code, stdout, stderr } = await atomizerJobs([arg]);
      expect(code).toBe(0);
      expect(stderr).toBe("");
      expect(stdout).toMatch(/^usage: atomizer-jobs <command> \[options\]/);
      for (const [name, command] of Object.entries(COMMANDS)) {
        expect(stdout).toMatch(new RegExp(`^  ${name} +${command.summary.replace(/[()/.]/g, "\\$&")}$`, "m"));
      }
    },
  );

  it("with no command prints the usage and exits 2", async () => {
    const { code, stdout } = await atomizerJobs([]);
    expect(code).toBe(2);
    expect(stdout).toContain("usage: atomizer-jobs");
  });

  it.each([["--version"], ["version"]])("%s prints the package version", async (arg) => {
    const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { version: string };
    const { code, stdout, stderr } = await atomizerJobs([arg]);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });

  it("refuses an unknown command with exit 2, naming it and showing the usage", async () => {
    const { code, stdout, stderr } = await atomizerJobs(["bogus"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^unknown command "bogus"\n/);
    expect(stderr).toContain("usage: atomizer-jobs");
  });

  it("init --queue DIR creates the layout", async () => {
    const root = join(await tempDir(), "queue");
    const { code, stdout, stderr } = await atomizerJobs(["init", "--queue", root]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain(`queue ready at ${root}`);
    for (const folder of ["outbox", "inbox", "archive"]) {
      expect((await stat(join(root, folder))).isDirectory()).toBe(true);
      expect(await readFile(join(root, folder, ".stignore"), "utf8")).toContain(".atomizer-*.tmp");
    }
  });

  it("init takes the queue from ATOMIZER_QUEUE_DIR", async () => {
    const root = await tempDir();
    const { code } = await atomizerJobs(["init"], { ATOMIZER_QUEUE_DIR: root });
    expect(code).toBe(0);
    expect((await stat(join(root, "inbox"))).isDirectory()).toBe(true);
  });

  it("init without a queue says what it needs and exits 2", async () => {
    const { code, stderr } = await atomizerJobs(["init"]);
    expect(code).toBe(2);
    expect(stderr).toContain("init needs --queue DIR (or ATOMIZER_QUEUE_DIR)");
  });

  it("init --help shows the command's options (as the main usage promises)", async () => {
    const { code, stdout } = await atomizerJobs(["init", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("usage: atomizer-jobs init --queue DIR");
  });

  it("a failing command exits 1 with the command name and the reason", async () => {
    const file = join(await tempDir(), "not-a-folder");
    await writeFile(file, "");
    const { code, stderr } = await atomizerJobs(["init", "--queue", file]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^atomizer-jobs init: .*not-a-folder/);
  });
});
