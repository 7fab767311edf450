// npm run test:windows: the runner and the workstation's CLI on the Windows build of Node 24, under
// Wine, against a queue the Linux side submits to and fetches from. A plain driver, not vitest:
// vitest under Wine is ~10x slower and its bundler needs bcryptprimitives.dll.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { laneContext } from "./lane-context.ts";
import { hostCases, licenceCase } from "./lane-host-cases.ts";
import { ledgerImportCase } from "./lane-ledger-cases.ts";
import { natsCase } from "./lane-nats-cases.ts";
import { linuxSide } from "./lane-queue.ts";
import { restartCase } from "./lane-restart-cases.ts";
import { runnerCases, stockTaskkillCase } from "./lane-run-cases.ts";
import { signedCase } from "./lane-signed-cases.ts";
import { prepareWine } from "./wine-setup.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const cache = process.env.ATOMIZER_CACHE_DIR ?? path.join(homedir(), ".cache", "atomizer-job-queue");

async function main(): Promise<number> {
  const started = Date.now();
  const lane = await prepareWine(cache, repo);
  console.log(`windows lane: prepared in ${((Date.now() - started) / 1000).toFixed(1)} s (${lane.nodeExe})`);
  const dir = await mkdtemp(path.join(tmpdir(), "atomizer-wine-lane-"));
  const linux = linuxSide(repo, path.join(dir, "queue"));
  const ctx = laneContext(lane, repo, dir, linux);
  await rm(path.join(ctx.workLinux, ".."), { recursive: true, force: true });
  await mkdir(ctx.studies, { recursive: true });
  execFileSync(process.execPath, [path.join(repo, "bin", "atomizer-jobs.js"), "init", "--queue", ctx.queue]);
  const results = { passed: 0, failed: 0 };
  const check = async (name: string, body: () => Promise<void>) => {
    const t = Date.now();
    try {
      await body();
      results.passed++;
      console.log(`  ok   ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    } catch (error) {
      results.failed++;
      console.log(`  FAIL ${name}: ${(error as Error).message}`);
    }
  };
  // `--only a,b`: just those sections, for working on one case (CI runs them all).
  const onlyAt = process.argv.indexOf("--only");
  const only = onlyAt > 0 ? new Set((process.argv[onlyAt + 1] ?? "").split(",")) : undefined;
  const section = async (name: string, body: () => Promise<void>) => {
    if (only && !only.has(name)) return;
    try {
      await body();
    } catch (error) {
      results.failed++;
      console.log(`  FAIL ${name} (could not run): ${(error as Error).stack ?? error}`);
    }
  };
  try {
    await section("runner --once", () => runnerCases(ctx, check));
    await section("stock taskkill", () => stockTaskkillCase(ctx, check));
    await section("restart", () => restartCase(ctx, check));
    await section("licence", () => licenceCase(ctx, check));
    await section("host", () => hostCases(ctx, check));
    await section("signed", () => signedCase(ctx, check));
    await section("ledger", () => ledgerImportCase(ctx, check));
    await section("nats", () => natsCase(ctx, check));
  } finally {
    // Only this lane's own prefix: supervisors or scripts a failed case left behind.
    execFileSync("wineserver", ["-k"], { env: lane.env, stdio: "ignore" });
  }
  const keep = results.failed > 0 ? ` (logs kept in ${dir})` : "";
  if (results.failed === 0) await rm(dir, { recursive: true, force: true });
  console.log(
    `windows lane: ${results.passed} passed, ${results.failed} failed in ${((Date.now() - started) / 1000).toFixed(0)} s${keep}`,
  );
  return results.failed === 0 ? 0 : 1;
}

process.exitCode = await main();
