import { execFile } from "node:child_process";
import { promisify } from "node:util";

export const execFileAsync = promisify(execFile);

/** Milliseconds taken by `operation`. */
export async function timeMs(operation: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await operation();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Runs `operation` `runs` times after one unmeasured warm-up (page cache, JIT), returning each time. */
export async function repeat(runs: number, operation: () => Promise<unknown>): Promise<number[]> {
  await operation();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(await timeMs(operation));
  return samples;
}
