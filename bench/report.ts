import { homedir } from "node:os";
import type { BenchResult } from "./bench-result.ts";
import type { Machine } from "./machine.ts";

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** docs/benchmarks.md: the machine, one table row per figure, then each benchmark's notes. */
export function renderReport(
  machine: Machine,
  results: readonly BenchResult[],
  quick: boolean,
  seconds: number,
  queueCache: string,
): string {
  const home = homedir();
  const cache = queueCache.startsWith(home) ? `~${queueCache.slice(home.length)}` : queueCache;
  const lines = [
    "# Benchmarks",
    "",
    "Written by `npm run bench` (bench/run.ts); do not edit by hand. Every figure is the median with",
    "(min-max, n = runs) over repeated runs, beside a baseline measured in the same run on the same data.",
    "Timed tests never assert speed: this page reports, it does not gate. `npm run bench -- --quick` is a",
    "smoke run that checks every benchmark still runs; it never writes this page.",
    "",
    "Generated queues (bench/generate-queue.ts) are written once and kept in the queue cache,",
    `${cache}, one folder per mix, size and hash of the generator's source: every benchmark of a run`,
    "reads the same copy, and later runs reuse it. A benchmark that writes to its queue (P6's runner) has it",
    "to itself for the run (moved out of the cache and back, never copied). Unused entries go after 14 days.",
    "Every server a benchmark starts keeps its state (job index) in a temporary folder of its own.",
    "",
    "## Machine",
    "",
    `- ${machine.cores} cores: ${machine.cpuModel}`,
    `- memory: ${machine.memoryGb.toFixed(1)} GB`,
    `- node ${machine.node}; ${machine.openssl}; ${machine.python}`,
    `- run: ${machine.date}${quick ? " (quick smoke run)" : ""}, ${Math.round(seconds)} s; load average at start ${machine.loadAtStart.toFixed(2)}`,
    ...(machine.build ? [`- ${machine.build}`] : []),
    "",
    "## Results",
    "",
    "| id | what | figure | baseline (same run) | ratio | goal | verdict |",
    "|---|---|---|---|---|---|---|",
    ...results.map(
      (r) =>
        `| ${cell(r.id)} | ${cell(r.what)} | ${cell(r.figure)} | ${cell(r.baseline)} | ${cell(r.ratio)} | ${cell(r.goal)} | ${r.verdict === "missed" ? "**missed**" : r.verdict} |`,
    ),
    "",
    "## Notes",
    "",
  ];
  for (const result of results) {
    if (result.notes.length === 0) continue;
    lines.push(`### ${result.id}`, "");
    for (const note of result.notes) lines.push(`- ${note}`);
    lines.push("");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}
