// `npm run bench [-- --quick] [-- --only P1,P3] [-- --from sources]`: runs the benchmarks and rewrites
// docs/benchmarks.md (a full run of all of them on the compiled build only).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { BenchContext, Benchmark, BenchResult } from "./bench-result.ts";
import { chooseBuild } from "./build-choice.ts";
import { describeMachine } from "./machine.ts";
import { pickupBenchmark } from "./p1-pickup.ts";
import { verifyBenchmark } from "./p2-verify.ts";
import { statusListBenchmark } from "./p3-status-list.ts";
import { submitBenchmark } from "./p4-submit.ts";
import { fetchResultsBenchmark } from "./p5-fetch-results.ts";
import { idleBenchmark } from "./p6-idle.ts";
import { syncthingRoundTripBenchmark } from "./p7-syncthing-round-trip.ts";
import { mcpSurfaceBenchmark } from "./p8-mcp-surface.ts";
import { startupBenchmark } from "./p9-startup.ts";
import { natsObjectsBenchmark } from "./p10-nats-objects.ts";
import { findOptunaPython } from "./python.ts";
import { defaultQueueCacheDir, openQueueCache } from "./queue-cache.ts";
import { renderReport } from "./report.ts";

const BENCHMARKS: readonly [string, Benchmark][] = [
  ["P1", pickupBenchmark],
  ["P2", verifyBenchmark],
  ["P3", statusListBenchmark],
  ["P4", submitBenchmark],
  ["P5", fetchResultsBenchmark],
  ["P6", idleBenchmark],
  ["P7", syncthingRoundTripBenchmark],
  ["P8", mcpSurfaceBenchmark],
  ["P9", startupBenchmark],
  ["P10", natsObjectsBenchmark],
];

const REPORT = fileURLToPath(new URL("../docs/benchmarks.md", import.meta.url));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      from: { type: "string", default: "dist" },
    },
  });
  const quick = values.quick === true;
  const only = values.only ? new Set(values.only.split(",").map((id) => id.trim().toUpperCase())) : undefined;
  const started = process.hrtime.bigint();
  const python = findOptunaPython();
  const log = (line: string) =>
    process.stderr.write(`bench ${new Date().toISOString().slice(11, 19)} ${line}\n`);
  const build = chooseBuild(values.from ?? "dist", log);
  const machine = { ...(await describeMachine(python)), build };
  const queues = await openQueueCache(defaultQueueCacheDir(), log);
  const results: BenchResult[] = [];
  let failed = false;
  for (const [id, benchmark] of BENCHMARKS) {
    if (only && !only.has(id)) continue;
    const scratch = await mkdtemp(join(tmpdir(), `atomizer-bench-${id.toLowerCase()}-`));
    // What runs in this process (P1's runner, P7's index, P8's HTTP server) keeps its state in the
    // scratch folder too, never in $HOME; the servers a benchmark spawns get their own (mcp-session.ts).
    process.env.ATOMIZER_STATE_DIR = join(scratch, "state");
    const context: BenchContext = { quick, scratch, queues, python, log };
    const t0 = process.hrtime.bigint();
    log(`${id}: start`);
    try {
      const produced = await benchmark(context);
      const changed = await queues.audit();
      if (changed.length > 0) throw new Error(`${id} wrote to a shared queue: ${changed.join("; ")}`);
      results.push(...(Array.isArray(produced) ? produced : [produced]));
      log(`${id}: done in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`);
    } catch (error) {
      failed = true;
      log(`${id}: FAILED: ${(error as Error).stack ?? String(error)}`);
      results.push({
        id,
        what: "(the benchmark failed)",
        figure: "-",
        baseline: "-",
        ratio: "-",
        goal: "-",
        verdict: "error",
        notes: [`failed: ${(error as Error).message}`],
      });
    } finally {
      await rm(scratch, { recursive: true, force: true, maxRetries: 3 });
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const text = renderReport(machine, results, quick, seconds, queues.dir);
  // A smoke run (CI) never overwrites the real figures; a partial run (--only) or one of the sources neither.
  const partial = quick || only || values.from !== "dist";
  const target = partial ? join(tmpdir(), `atomizer-benchmarks${quick ? "-quick" : ""}.md`) : REPORT;
  await writeFile(target, text);
  process.stdout.write(text);
  log(`wrote ${target} in ${seconds.toFixed(1)} s${failed ? "; some benchmarks FAILED" : ""}`);
  if (results.some((r) => r.verdict === "skipped") && process.env.CI === "true") {
    log("CI=true: a skipped benchmark (missing prerequisite) fails the run");
    return 1;
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
