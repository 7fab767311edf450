import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-state.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests spawn real processes; two cores make more workers slower, not faster.
    maxWorkers: 2,
    // Every `node bin/atomizer-jobs.js` a test starts runs the sources under test, never dist/.
    env: { ATOMIZER_RUN_FROM: "sources" },
  },
});
