import { cpus, loadavg, totalmem } from "node:os";
import { execFileAsync } from "./timing.ts";

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  openssl: string;
  python: string;
  date: string;
  /** 1-minute load average when the run started: other work on the machine shows here. */
  loadAtStart: number;
  /** Which build the processes the benchmarks started ran (bench/build-choice.ts). */
  build?: string;
}

export async function describeMachine(python: string | undefined): Promise<Machine> {
  const version = async (command: string, args: string[]) => {
    try {
      const { stdout, stderr } = await execFileAsync(command, args);
      return (stdout || stderr).trim().split("\n")[0] ?? "";
    } catch {
      return "not found";
    }
  };
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGb: totalmem() / 1024 ** 3,
    node: process.version,
    openssl: await version("openssl", ["version"]),
    python: python
      ? `${await version(python, ["--version"])}, optuna ${await version(python, ["-c", "import optuna; print(optuna.__version__)"])}`
      : "no python3 with optuna",
    date: new Date().toISOString(),
    loadAtStart: loadavg()[0] ?? 0,
  };
}
