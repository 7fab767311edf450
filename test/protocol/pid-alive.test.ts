import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { isProcessAlive, pidAlive } from "../../protocol/index.ts";

/** A child that exits at once and is not reaped while the test looks at it (a zombie on Linux). */
async function exitedChild(): Promise<{ pid: number; reap: () => Promise<void> }> {
  const child = spawn(process.execPath, ["-e", "process.exit(0)"], { stdio: "ignore" });
  const pid = child.pid ?? 0;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { pid, reap: () => exited };
}

describe("process liveness", () => {
  it("this process is alive", async () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(await isProcessAlive(process.pid)).toBe(true);
  });

  it("a pid no process holds is not", async () => {
    // Above Linux's pid_max limit (4194304) and Windows' usual range: never a live process.
    const pid = 2 ** 30;
    expect(pidAlive(pid)).toBe(false);
    expect(await isProcessAlive(pid)).toBe(false);
  });

  it("a process that exited is gone for isProcessAlive, once reaped for pidAlive too", async () => {
    const child = await exitedChild();
    await child.reap();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await isProcessAlive(child.pid)).toBe(false);
    expect(pidAlive(child.pid)).toBe(false);
  });

  it.runIf(process.platform === "linux")(
    "a zombie's pid is taken, but the process is not alive",
    async () => {
      // `sh -c 'sleep 0 & exec sleep 1'`: the backgrounded child exits at once, unreaped by `sleep`.
      const parent = spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 2"], {
        stdio: ["ignore", "pipe", "ignore"],
      });
      const zombie = await new Promise<number>((resolve) =>
        parent.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
      );
      try {
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(pidAlive(zombie)).toBe(true);
        expect(await isProcessAlive(zombie, "linux")).toBe(false);
      } finally {
        parent.kill("SIGKILL");
      }
    },
  );
});
