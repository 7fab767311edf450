#!/usr/bin/env node
// The compiled build (dist/) when it is current, else the TypeScript sources of a checkout (Node 24
// strips types); ATOMIZER_RUN_FROM=dist|sources overrides (bin/choose-entry.js).
import { fileURLToPath } from "node:url";
import { chooseEntry } from "./choose-entry.js";

let entry;
try {
  entry = chooseEntry(fileURLToPath(new URL("..", import.meta.url)), "cli/main");
} catch (error) {
  process.stderr.write(`atomizer-jobs: ${error.message}\n`);
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
