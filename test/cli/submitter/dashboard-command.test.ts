import { rm } from "node:fs/promises";
import { expect, test } from "vitest";
import { runAtomizerJobs, startAtomizerJobs } from "../../helpers/atomizer-jobs.ts";
import { makeQueue } from "../../submitter/fixtures/runner-fixture.ts";

test.each([
  { args: ["--host", "0.0.0.0"], says: /needs --public and --config FILE/ },
  { args: ["--host", "0.0.0.0", "--public"], says: /needs --public and --config FILE/ },
  { args: ["--port", "70000"], says: /at most 65535/ },
  { args: ["--port", "x"], says: /--port must be a whole number/ },
])("dashboard $args is a usage error (exit 2)", async ({ args, says }) => {
  const { base, queue } = await makeQueue();
  try {
    const run = await runAtomizerJobs(["dashboard", "--queue", queue.root, ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(says);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test("dashboard serves the queue page on loopback until stopped", async () => {
  const { base, queue } = await makeQueue();
  const cli = startAtomizerJobs(["dashboard", "--queue", queue.root, "--port", "0"]);
  try {
    let url: string | undefined;
    for (let i = 0; i < 100 && !url; i++) {
      url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.output())?.[1];
      if (!url) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(url, cli.output()).toBeDefined();
    const page = await fetch(url as string);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("No jobs in the queue.");
    cli.child.kill("SIGTERM");
    expect(await cli.exited).toBe(0);
  } finally {
    if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
    await rm(base, { recursive: true, force: true });
  }
});
