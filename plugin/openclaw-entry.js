// OpenClaw's entry for this plugin (package.json "openclaw.extensions"): the compiled build when it
// is current, else the sources of a checkout (bin/choose-entry.js). With a TypeScript entry OpenClaw
// would pick dist/ by itself whenever it exists, stale or not, in a linked checkout too.
// No top-level await: OpenClaw may require() this module.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { chooseEntry } from "../bin/choose-entry.js";

const entry = chooseEntry(fileURLToPath(new URL("..", import.meta.url)), "plugin/plugin-entry");
const plugin = createRequire(import.meta.url)(fileURLToPath(entry)).default;

export default plugin;
