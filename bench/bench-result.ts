import type { QueueCache } from "./queue-cache.ts";

/** One row of docs/benchmarks.md: a figure beside its baseline from the same run, and the goal. */
export interface BenchResult {
  id: string;
  what: string;
  figure: string;
  baseline: string;
  ratio: string;
  goal: string;
  /**
   * "met" or "missed"; "n/a" in a quick smoke run (it measures nothing worth judging); "skipped" when a
   * prerequisite (python3-optuna) is missing; "error" when the benchmark itself failed.
   */
  verdict: "met" | "missed" | "n/a" | "skipped" | "error";
  /** What bounds a missed goal, or other context a reader needs. */
  notes: string[];
}

export interface BenchContext {
  /** Smoke mode: tiny data sets, one repetition; checks the benchmark still runs. */
  quick: boolean;
  /** Scratch folder for generated data (removed afterwards). */
  scratch: string;
  /** Generated queues, written once and reused by every benchmark of the run and by later runs. */
  queues: QueueCache;
  /** A python3 that imports optuna, when there is one. */
  python: string | undefined;
  log: (line: string) => void;
}

/** One benchmark: one table row, or several when it has more than one goal (P3, P6). */
export type Benchmark = (context: BenchContext) => Promise<BenchResult | BenchResult[]>;
