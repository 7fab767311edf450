#!/usr/bin/env node
// The compiled build (dist/) when it is current, else the TypeScript sources of a checkout (Node 24
// strips types); ATOMIZER_RUN_FROM=dist|sources overrides (bin/choose-entry.js).
import { fileURLToPath } from "node:url";
import { chooseEntry } from "./choose-entry.js";
import { RELAUNCHED_ENV, relaunchArgv } from "./memory-flags.js";

const relaunch = relaunchArgv({
  execPath: process.execPath,
  argv: process.argv,
  execArgv: process.execArgv,
  env: process.env,
  canExec: typeof process.execve === "function",
  permission: process.permission !== undefined,
});
if (relaunch) {
  try {
    // Replaces this process (same pid and stdio) and does not return.
    process.execve(process.execPath, relaunch, { ...process.env, [RELAUNCHED_ENV]: "1" });
  } catch {
    // Refused before exec: run as started, with V8's default young generation.
  }
}
// Not passed on to what this process starts.
delete process.env[RELAUNCHED_ENV];

let entry;
try {
  entry = chooseEntry(fileURLToPath(new URL("..", import.meta.url)), "cli/main");
} catch (error) {
  process.stderr.write(`atomizer-jobs: ${error.message}\n`);
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
