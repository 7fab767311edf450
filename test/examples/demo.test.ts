import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { findOptunaPython, requireUnderCi } from "../helpers/python.ts";

const DEMO = fileURLToPath(new URL("../../examples/demo/run-demo.ts", import.meta.url));
const python = findOptunaPython();
const ready = requireUnderCi(python !== undefined, "python3 with optuna and matplotlib");

describe.runIf(ready)("npm run demo (the README's main command)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("submits the example through a real MCP client, runs it and prints the best design and the plot", async () => {
    const dir = await mkdtemp(join(tmpdir(), "atomizer-demo-test-"));
    dirs.push(dir);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [DEMO, "--dir", dir, "--trials", "6", "--python", python as string],
      { timeout: 120_000 },
    );
    expect(stdout).toMatch(/submitted job-\d{8}-\d{6}-mirror-wfe-demo .*signed by ed25519:[0-9a-f]{16}\)/);
    expect(stdout).toMatch(/results from the workstation: runner signature verified/);
    expect(stdout).toMatch(/running: \d+\/6 trials|completed/);
    expect(stdout).toMatch(/study mirror_wfe_demo: 6 trials/);
    expect(stdout).toMatch(/best minimize value: \d+\.\d+ \(trial \d+\)/);
    expect(stdout).toMatch(/rib_pattern = (triangular|hexagonal|square)/);
    const plot = /plot: (.+convergence\.png)/.exec(stdout)?.[1];
    expect(plot, stdout).toBeDefined();
    expect((await stat(plot as string)).size).toBeGreaterThan(1000);
    const report = /report page: (.+report\.html)/.exec(stdout)?.[1];
    expect(report, stdout).toBeDefined();
    expect((await stat(report as string)).size).toBeGreaterThan(10_000);
  });
});
