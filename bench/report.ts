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
): string {
  const lines = [
    "# Benchmarks",
    "",
    "Written by `npm run bench` (bench/run.ts); do not edit by hand. Every figure is the median with",
    "(min-max, n = runs) over repeated runs, beside a baseline measured in the same run on the same data.",
    "Timed tests never assert speed: this page reports, it does not gate. `npm run bench -- --quick` is a",
    "smoke run that checks every benchmark still runs; it never writes this page.",
    "",
    "## Machine",
    "",
    `- ${machine.cores} cores: ${machine.cpuModel}`,
    `- memory: ${machine.memoryGb.toFixed(1)} GB`,
    `- node ${machine.node}; ${machine.openssl}; ${machine.python}`,
    `- run: ${machine.date}${quick ? " (quick smoke run)" : ""}, ${Math.round(seconds)} s; load average at start ${machine.loadAtStart.toFixed(2)}`,
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
