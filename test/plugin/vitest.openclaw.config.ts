import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

/** `npm run test:openclaw`: the plugin against the real OpenClaw CLI, kept out of plain `npm test`. */
export default defineConfig({
  test: {
    root: resolve(import.meta.dirname, "../.."),
    include: ["test/plugin/*.openclaw.ts"],
    testTimeout: 180_000,
    hookTimeout: 600_000,
    maxWorkers: 1,
  },
});
