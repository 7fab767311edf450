#!/usr/bin/env node
// In a checkout the TypeScript sources run directly (Node 24 strips types); a published
// package ships only dist/, because Node refuses to strip types under node_modules.
import { existsSync } from "node:fs";

const source = new URL("../cli/main.ts", import.meta.url);
const entry = existsSync(source) ? source : new URL("../dist/cli/main.js", import.meta.url);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
