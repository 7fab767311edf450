// Which build of a module runs: the compiled one (dist/) whenever it was built from the sources as
// they are now, the TypeScript sources otherwise. Node strips types as it loads the sources, which
// costs each process ~25 MB more than the compiled build (docs/benchmarks.md), so the processes that
// stay up (the MCP server every gateway starts, the runner) should run dist/; but a checkout whose
// sources changed since the last build must run the sources, never stale code.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { stampIsCurrent } from "./build-stamp.js";

/** The override: ATOMIZER_RUN_FROM=dist (even if stale), =sources, or =auto (the default). */
export const RUN_FROM = "ATOMIZER_RUN_FROM";

/**
 * The file URL to import for `module` ("cli/main") of the package at `root`. An installed package
 * ships only dist/ (Node refuses to strip types under node_modules). `warn` gets one line when a
 * checkout's dist/ is out of date, so the extra memory is never a mystery.
 */
export function chooseEntry(root, module, env = process.env, warn = (line) => process.stderr.write(line)) {
  const source = join(root, `${module}.ts`);
  const built = join(root, "dist", `${module}.js`);
  const from = env[RUN_FROM] || "auto";
  if (!["auto", "dist", "sources"].includes(from))
    throw new Error(`${RUN_FROM}=${from}: expected dist, sources or auto`);
  if (!existsSync(source)) {
    if (from === "sources")
      throw new Error(`${RUN_FROM}=sources, but this install has no sources, only dist/`);
    return pathToFileURL(built);
  }
  if (from === "sources") return pathToFileURL(source);
  if (from === "dist") {
    if (!existsSync(built)) throw new Error(`${RUN_FROM}=dist, but ${built} is missing: run npm run build`);
    return pathToFileURL(built);
  }
  if (existsSync(built) && stampIsCurrent(root)) return pathToFileURL(built);
  if (existsSync(join(root, "dist")))
    warn(
      `atomizer-jobs: dist/ was not built from these sources; running the sources (npm run build to run the compiled build, ${RUN_FROM}=sources to silence this)\n`,
    );
  return pathToFileURL(source);
}
