// The long-lived commands run with a 1 MB young generation: relaunched once through process.execve
// (same pid and stdio), never for a one-shot command or a command line that already chose a size.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RELAUNCHED_ENV, relaunchArgv, SEMI_SPACE_FLAG } from "../../bin/memory-flags.js";

const BIN = fileURLToPath(new URL("../../bin/atomizer-jobs.js", import.meta.url));
const base = { execPath: "/usr/bin/node", execArgv: [] as string[], env: {}, canExec: true };

describe("relaunchArgv", () => {
  it.each([
    ["mcp", ["node", "/p/bin/atomizer-jobs.js", "mcp", "--queue", "q"]],
    ["runner", ["node", "/p/bin/atomizer-jobs.js", "runner", "--queue", "q"]],
    ["dashboard", ["node", "/p/bin/atomizer-jobs.js", "dashboard"]],
  ])("relaunches %s with the flag before the script, keeping its arguments", (_name, argv) => {
    expect(relaunchArgv({ ...base, argv, execArgv: ["--no-warnings"] })).toEqual([
      "/usr/bin/node",
      SEMI_SPACE_FLAG,
      "--no-warnings",
      ...argv.slice(1),
    ]);
  });

  it.each<[string, Partial<Parameters<typeof relaunchArgv>[0]>]>([
    ["a one-shot command", { argv: ["node", "bin", "submit", "--study", "s"] }],
    ["no command", { argv: ["node", "bin"] }],
    ["a size on node's own command line (the relaunched process)", { execArgv: [SEMI_SPACE_FLAG] }],
    ["a size of the user's own", { execArgv: ["--max-semi-space-size", "8"] }],
    ["a size in NODE_OPTIONS", { env: { NODE_OPTIONS: "--no-warnings --max-semi-space-size=4" } }],
    ["a size in V8's own spelling", { env: { NODE_OPTIONS: "--max_semi_space_size=4" } }],
    ["a quoted size", { env: { NODE_OPTIONS: '"--max-semi-space-size=4"' } }],
    ["no process.execve (Windows)", { canExec: false }],
    ["a process relaunched already", { env: { [RELAUNCHED_ENV]: "1" } }],
    ["an IPC channel from the parent", { env: { NODE_CHANNEL_FD: "3" } }],
    ["the permission model", { permission: true }],
    ["a debugger", { execArgv: ["--inspect-brk"] }],
    ["a debugger asked for in NODE_OPTIONS", { env: { NODE_OPTIONS: "--inspect=9229" } }],
  ])("runs as started for %s", (_what, patch) => {
    expect(relaunchArgv({ ...base, argv: ["node", "bin", "mcp"], ...patch })).toBeUndefined();
  });
});

describe.skipIf(process.platform !== "linux")("the installed program", () => {
  it("serves mcp in the same process, relaunched with the flag", async () => {
    const child = spawn(process.execPath, [BIN, "mcp", "--queue", "/nonexistent-queue"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    // The queue does not exist: the relaunched program says so and exits 1, which proves it ran.
    expect(await exited).toBe(1);
    expect(stderr).toContain("atomizer-jobs mcp");
    expect(stderr).not.toMatch(/ExperimentalWarning/);
  });

  it("has the flag in its own command line under the spawned pid", async () => {
    const child = spawn(process.execPath, [BIN, "mcp", "--queue", "/nonexistent-queue"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    const lines: string[] = [];
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    // The exec happens before any module of the program loads: poll /proc until it shows.
    for (let i = 0; i < 200 && !lines.some((line) => line.includes(SEMI_SPACE_FLAG)); i++) {
      const cmdline = await readFile(`/proc/${child.pid}/cmdline`, "utf8").catch(() => "");
      lines.push(cmdline.split("\0").join(" "));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await exited;
    expect(lines.some((line) => line.includes(`${SEMI_SPACE_FLAG} ${BIN} mcp`))).toBe(true);
  });
});
