import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { claimJob } from "../../../protocol/nats-claims.ts";
import type { NatsQueue } from "../../../protocol/nats-connect.ts";
import { openNats } from "../../../protocol/nats-connect.ts";
import { NATS_DISPATCH_SUBJECT } from "../../../protocol/nats-layout.ts";
import type { RunningNats } from "../../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../../helpers/nats-server.ts";
import { waitFor } from "../helpers/make-job.ts";
import type { InProcessRunner } from "./helpers/bridge-parts.ts";
import { startInProcessRunner } from "./helpers/bridge-parts.ts";
import { claimOf, runOf, submitOverNats } from "./helpers/nats-submitter.ts";

// A claim of this host that this process does not hold (the claim landed, its answer and the read-back
// after it were lost) is taken up, wherever the runner meets it: the dispatch message, the sweep.

const ENV_JOB = `import os
print("nats env:", sorted(k for k in os.environ if k.upper().startswith("ATOMIZER_NATS_")))
`;

describe.runIf(natsServerPresent())("dispatch: orphaned claims and labels", () => {
  let nats: RunningNats;
  let q: NatsQueue;
  let base: string;
  let runner: InProcessRunner | undefined;
  const host = "ws-orphan";

  beforeEach(async () => {
    nats = await startNatsServer();
    q = await openNats({ url: nats.url });
    base = await mkdtemp(path.join(tmpdir(), "atomizer-nats-dispatch-"));
  });
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    await q.close().catch(() => undefined);
    await nats.stop();
    await rm(base, { recursive: true, force: true, maxRetries: 5 });
  });

  const done = (jobId: string) =>
    waitFor(
      () => `${jobId} done; runner log:\n${runner?.output()}`,
      async () => {
        const claim = await claimOf(q, jobId);
        return claim?.state === "done" ? claim : undefined;
      },
    );

  test.each([
    { via: "its dispatch message", republishS: 300, publish: true },
    { via: "the periodic claim sweep", republishS: 0.5, publish: false },
  ])(
    "a claim of this host it does not hold is adopted through $via and runs",
    async ({ republishS, publish }) => {
      runner = await startInProcessRunner({ url: nats.url, base, host, nats: { republishS, leaseS: 30 } });
      const jobId = await submitOverNats(
        q,
        base,
        { name: `orphan ${publish}`, script: "env_job.py", scriptText: ENV_JOB },
        { publish: false },
      );
      // Past the sweep every start makes, so the claim below is met the way the case names (with a fast
      // sweep the claim comes at once: that sweep would announce a queued job, and this runner take it).
      if (publish) await new Promise((resolve) => setTimeout(resolve, 500));
      // The claim write landed; the runner never heard back.
      expect((await claimJob(q.kv, jobId, host, 30, new Date())).ok).toBe(true);
      if (publish) await q.js.publish(NATS_DISPATCH_SUBJECT, jobId, { msgID: jobId });
      expect(await done(jobId)).toMatchObject({ host, outcome: "completed", attempt: 1 });
      expect(runner.output()).toContain("claim adopted");
    },
  );

  test("a job's script never sees the runner's ATOMIZER_NATS_* settings", async () => {
    process.env.ATOMIZER_NATS_TEST_SECRET = "s3cret";
    try {
      runner = await startInProcessRunner({ url: nats.url, base, host });
      const jobId = await submitOverNats(q, base, {
        name: "env check",
        script: "env_job.py",
        scriptText: ENV_JOB,
      });
      await done(jobId);
      const run = await runOf(q, jobId);
      const log = run?.record.files.find((file) => file.path === "stdout.log");
      expect(log).toBeDefined();
      const fetched = path.join(base, "fetched");
      const { downloadTree } = await import("../../../protocol/nats-objects.ts");
      await downloadTree(q, log ? [log] : [], fetched);
      const { readFile } = await import("node:fs/promises");
      expect(await readFile(path.join(fetched, "stdout.log"), "utf8")).toContain("nats env: []");
    } finally {
      delete process.env.ATOMIZER_NATS_TEST_SECRET;
    }
  });

  test("a job for other labels is logged once, however often it comes back", async () => {
    runner = await startInProcessRunner({
      url: nats.url,
      base,
      host,
      nats: { labels: { os: "linux" }, nakDelayS: 0.2 },
    });
    const jobId = await submitOverNats(q, base, {
      name: "needs windows",
      script: "env_job.py",
      scriptText: ENV_JOB,
      labels: { os: "win" },
    });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const lines = runner.lines.filter((line) => line.includes(jobId) && line.includes("not for this runner"));
    expect(lines, runner.output()).toHaveLength(1);
    expect(lines[0]).toContain("needs label os=win, this runner has os=linux");
    expect(await claimOf(q, jobId)).toMatchObject({ state: "queued" });
  });
});
