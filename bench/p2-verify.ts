import { join } from "node:path";
import { buildManifest, verifyManifest } from "../protocol/index.ts";
import type { Benchmark } from "./bench-result.ts";
import { generateStudy } from "./generate-study.ts";
import { formatSummary, summarize } from "./stats.ts";
import { alternate, execFileAsync } from "./timing.ts";

/** P2: verifying a 1 GiB job against its manifest, beside openssl hashing the same files. */
export const verifyBenchmark: Benchmark = async ({ quick, scratch, log }) => {
  const total = quick ? 16 * 1024 * 1024 : 1024 * 1024 * 1024;
  const dir = join(scratch, "p2-study");
  log(`P2: generating a ${total / 1024 / 1024} MiB study (1 large + 500 small files)`);
  const files = await generateStudy(dir, total, 500);
  const manifest = await buildManifest(dir, files);
  const runs = quick ? 1 : 5;
  const samples = await alternate(
    runs,
    async () => {
      const check = await verifyManifest(dir, manifest);
      if (!check.complete) throw new Error("P2: verification failed on an intact folder");
    },
    () =>
      execFileAsync("openssl", ["dgst", "-sha256", ...files.map((f) => join(dir, f))], {
        maxBuffer: 16 * 1024 * 1024,
      }),
  );
  const ours = summarize(samples.ours);
  const baseline = summarize(samples.baseline);
  const ratio = ours.median / baseline.median;
  const gbPerS = total / 1e9 / (ours.median / 1000);
  return {
    id: "P2",
    what: `verify a ${quick ? "16 MiB" : "1 GiB"} job (1 large + 500 small files), sizes then SHA-256`,
    figure: `${formatSummary(ours, "ms", 0)}; ${gbPerS.toFixed(2)} GB/s`,
    baseline: `openssl dgst -sha256: ${formatSummary(baseline, "ms", 0)}`,
    ratio: ratio.toFixed(2),
    goal: "ratio <= 1.15",
    verdict: quick ? "n/a" : ratio <= 1.15 ? "met" : "missed",
    notes: [
      "Both read a warm page cache, one warm-up each; the two sides alternate run by run, so both meet the same machine.",
    ],
  };
};
