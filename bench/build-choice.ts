import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { stampIsCurrent } from "../bin/build-stamp.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const BUILD = fileURLToPath(new URL("../scripts/build.js", import.meta.url));

/**
 * Which build the processes a benchmark starts run (`--from`): by default the compiled build, as an
 * installed package and a built checkout run it, built first when it does not match the sources; or
 * the TypeScript sources, to see what type stripping costs. Set for every child through
 * ATOMIZER_RUN_FROM (bin/choose-entry.js); code the bench process imports itself always runs from the
 * sources. Returns the line the report's machine section shows.
 */
export function chooseBuild(from: string, log: (line: string) => void): string {
  if (from !== "dist" && from !== "sources") throw new Error(`--from ${from}: expected dist or sources`);
  process.env.ATOMIZER_RUN_FROM = from;
  if (from === "sources")
    return "servers and runners started by the benchmarks ran the TypeScript sources (--from sources)";
  if (!stampIsCurrent(REPO)) {
    log("dist/ does not match the sources: npm run build");
    execFileSync(process.execPath, [BUILD], { stdio: "inherit" });
  }
  return "servers and runners started by the benchmarks ran the compiled build (dist/, built from these sources)";
}
