import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { run } from "../../cli/init-command.ts";

const created: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "atomizer-cli-init-"));
  created.push(dir);
  return dir;
}

/** Runs the command in-process, capturing what it prints. */
async function init(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await run(argv);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

describe("init command", () => {
  it("creates outbox/, inbox/ and archive/ with a .stignore each and prints where", async () => {
    const root = join(await tempDir(), "queue");
    const { code, stdout, stderr } = await init(["--queue", root]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toBe(
      `queue ready at ${root}\n  outbox/  ${join(root, "outbox")}\n  inbox/   ${join(root, "inbox")}\n` +
        `  archive/ ${join(root, "archive")}\n`,
    );
    for (const folder of ["outbox", "inbox", "archive"]) {
      expect((await stat(join(root, folder))).isDirectory()).toBe(true);
      expect(await readFile(join(root, folder, ".stignore"), "utf8")).toContain(".atomizer-*.tmp");
    }
  });

  it("prints absolute paths for a relative --queue", async () => {
    const root = join(await tempDir(), "rel-queue");
    const { code, stdout } = await init(["--queue", relative(process.cwd(), root)]);
    expect(code).toBe(0);
    expect(stdout).toContain(`queue ready at ${root}\n`);
    expect((await stat(join(root, "outbox"))).isDirectory()).toBe(true);
  });

  it("is idempotent and keeps a user's .stignore", async () => {
    const root = await tempDir();
    await mkdir(join(root, "inbox"));
    await writeFile(join(root, "inbox", ".stignore"), "custom\n");
    expect((await init(["--queue", root])).code).toBe(0);
    expect((await init(["--queue", root])).code).toBe(0);
    expect(await readFile(join(root, "inbox", ".stignore"), "utf8")).toBe("custom\n");
  });

  it("falls back to ATOMIZER_QUEUE_DIR", async () => {
    const root = await tempDir();
    vi.stubEnv("ATOMIZER_QUEUE_DIR", root);
    expect((await init([])).code).toBe(0);
    expect((await stat(join(root, "archive"))).isDirectory()).toBe(true);
  });

  it.each<[string, string[], number, RegExp, "stdout" | "stderr"]>([
    ["no queue", [], 2, /init needs --queue DIR \(or ATOMIZER_QUEUE_DIR\)/, "stderr"],
    ["an empty queue", ["--queue", ""], 2, /init needs --queue DIR/, "stderr"],
    [
      "an unknown option",
      ["--queue", "x", "--force"],
      2,
      /Unknown option '--force'[\s\S]*usage: atomizer-jobs init/,
      "stderr",
    ],
    ["--queue without a value", ["--queue"], 2, /--queue[\s\S]*usage: atomizer-jobs init/, "stderr"],
    ["a stray argument", ["somewhere"], 2, /somewhere[\s\S]*usage: atomizer-jobs init/, "stderr"],
    ["--help", ["--help"], 0, /^usage: atomizer-jobs init --queue DIR/, "stdout"],
    ["-h", ["-h"], 0, /^usage: atomizer-jobs init --queue DIR/, "stdout"],
  ])("%s", async (_what, argv, expectedCode, message, stream) => {
    vi.stubEnv("ATOMIZER_QUEUE_DIR", "");
    const outcome = await init(argv);
    expect(outcome.code).toBe(expectedCode);
    expect(outcome[stream]).toMatch(message);
  });

  it("lets a real failure through for main() to report (queue root is a file)", async () => {
    const file = join(await tempDir(), "file");
    await writeFile(file, "");
    await expect(init(["--queue", file])).rejects.toSatisfy(
      (error: unknown) => typeof (error as NodeJS.ErrnoException).code === "string",
    );
  });
});
