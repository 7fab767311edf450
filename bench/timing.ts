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

/**
 * Times `ours` and `baseline` in turn, run by run, after one unmeasured warm-up each, with
 * `between` (untimed) before every run: a slower spell of this shared machine (its two cores are
 * virtual, and their steal time comes and goes by the minute) falls on both sides alike instead
 * of on whichever ran during it.
 */
export async function alternate(
  runs: number,
  ours: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
  between: () => Promise<unknown> = async () => undefined,
): Promise<{ ours: number[]; baseline: number[] }> {
  const samples = { ours: [] as number[], baseline: [] as number[] };
  for (let run = -1; run < runs; run++) {
    await between();
    const oursMs = await timeMs(ours);
    await between();
    const baselineMs = await timeMs(baseline);
    if (run >= 0) {
      samples.ours.push(oursMs);
      samples.baseline.push(baselineMs);
    }
  }
  return samples;
}
