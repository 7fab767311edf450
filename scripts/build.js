// `npm run build` (also run by `npm ci`/`npm install` through "prepare", and before `npm pack`):
// compiles the sources into dist/ with tsconfig.build.json, from a clean dist/ (no file of a deleted
// source is left behind or shipped), then stamps it with what it was compiled from, so
// bin/choose-entry.js runs dist/ only while it matches the sources.
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeSources, STAMP_FILE } from "../bin/build-stamp.js";

const root = fileURLToPath(new URL("..", import.meta.url));
let typescript;
try {
  typescript = createRequire(import.meta.url).resolve("typescript/package.json");
} catch {
  // `npm ci --omit=dev` runs "prepare" without the compiler: the sources run, as before the build
  // existed. A package must never be packed without dist/, though.
  const packing = ["pack", "publish"].includes(process.env.npm_command ?? "");
  process.stderr.write(
    `build: TypeScript is not installed; dist/ is not built${packing ? "" : ", the sources run"}\n`,
  );
  process.exit(packing ? 1 : 0);
}
const tsc = join(dirname(typescript), "bin", "tsc");
const sources = describeSources(root);
rmSync(join(root, "dist"), { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
  stdio: "inherit",
});
if (result.status !== 0) {
  process.stderr.write(
    `build: tsc failed (exit ${result.status ?? result.signal}); dist/ is not stamped, so the sources run\n`,
  );
  process.exit(1);
}
writeFileSync(join(root, "dist", STAMP_FILE), `${JSON.stringify(sources)}\n`);
