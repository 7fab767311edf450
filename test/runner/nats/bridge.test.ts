import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { pathExists } from "../../../protocol/index.ts";
import type { NatsQueue } from "../../../protocol/nats-connect.ts";
import { openNats } from "../../../protocol/nats-connect.ts";
import {
  CarriedFileSchema,
  jobKey,
  LicencePoolSchema,
  licenceKey,
  runnerKey,
} from "../../../protocol/nats-layout.ts";
import { readRecord } from "../../../protocol/nats-records.ts";
import type { CliProcess } from "../../helpers/atomizer-jobs.ts";
import type { RunningNats } from "../../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../../helpers/nats-server.ts";
import { waitFor } from "../helpers/make-job.ts";
import { runnerFolders, startNatsRunner } from "./helpers/nats-runners.ts";
import { cancelOverNats, claimOf, runOf, submitOverNats, verifyResults } from "./helpers/nats-submitter.ts";

const RESULT_JOB = `import os, sys
results = os.environ["ATOMIZER_RESULTS_DIR"]
os.makedirs(os.path.join(results, "plots"), exist_ok=True)
with open(os.path.join(results, "best.json"), "w") as handle:
    handle.write('{"mass": 1.25}\\n')
with open(os.path.join(results, "plots", "data.bin"), "wb") as handle:
    handle.write(bytes(range(256)) * 512)
print("done with", open(sys.argv[1]).read().strip())
`;
const SLEEP_JOB = "import time\ntime.sleep(60)\n";

describe.runIf(natsServerPresent())("runner --nats: one runner, jobs end to end through NATS", () => {
  let nats: RunningNats;
  let q: NatsQueue;
  let base: string;
  let runner: CliProcess;
  const host = "ws-one";

  beforeAll(async () => {
    nats = await startNatsServer();
    q = await openNats({ url: nats.url });
    base = await mkdtemp(path.join(tmpdir(), "atomizer-nats-runner-"));
    runner = startNatsRunner({
      url: nats.url,
      base,
      host,
      slots: 2,
      extra: [
        "--labels",
        "os=linux,nx=2512",
        "--licences",
        "nx=2",
        "--lease-s",
        "30",
        "--cleanup-delay",
        "0",
      ],
    });
    await waitFor(
      () => `the runner's heartbeat in NATS; runner log:\n${runner.output()}`,
      async () => ((await q.kv.get(runnerKey(host)))?.operation === "PUT" ? true : undefined),
    );
  });

  afterAll(async () => {
    if (runner.child.exitCode === null) {
      runner.child.kill("SIGTERM");
      await runner.exited;
    }
    await q?.close();
    await nats?.stop();
    if (base) await rm(base, { recursive: true, force: true, maxRetries: 5 });
  });

  test("a job runs once, its results land in the Object Store and verify, the claim is done and the licence back", async () => {
    const jobId = await submitOverNats(q, base, {
      name: "results over nats",
      script: "make_results.py",
      scriptText: RESULT_JOB,
      args: ["input.txt"],
      files: { "input.txt": "model m1\n" },
      labels: { os: "linux" },
    });
    const claim = await waitFor(
      () => `${jobId} done; runner log:\n${runner.output()}`,
      async () => {
        const current = await claimOf(q, jobId);
        return current?.state === "done" ? current : undefined;
      },
    );
    expect(claim).toMatchObject({ state: "done", host, attempt: 1, outcome: "completed" });
    const run = await runOf(q, jobId);
    expect(run?.record.host).toBe(host);
    expect(run?.job).toMatchObject({ job_id: jobId, status: "completed", exit_code: 0 });
    expect(run?.job.results?.files.map((f) => f.path).sort()).toEqual(
      ["3_results/best.json", "3_results/plots/data.bin", "stdout.log"].sort(),
    );
    expect(await verifyResults(q, jobId, path.join(base, "fetched", jobId))).toEqual([]);
    // The job type (optimization) is an NX type and the pool exists: it held nx, and gave it back.
    const pool = await readRecord(q.kv, licenceKey("nx"), LicencePoolSchema);
    expect(pool?.value).toEqual({ limit: 2, held: {} });
    // The dispatch message was acked after the commit: nothing is left in the work queue.
    const stream = await q.jsm.streams.info("ATOMIZER_DISPATCH");
    expect(stream.state.messages).toBe(0);

    // Archived on the submitting side: the local outbox entry goes, the runner cleans its inbox up,
    // and the bridge then removes the run record.
    await q.kv.delete(jobKey(jobId, "sub"));
    const local = runnerFolders(base, host).queue;
    await waitFor(`the run record of ${jobId} removed`, async () =>
      (await runOf(q, jobId)) === undefined ? true : undefined,
    );
    expect(await pathExists(path.join(local, "outbox", jobId))).toBe(false);
    expect(await pathExists(path.join(local, "inbox", jobId))).toBe(false);
    const objects = (await q.objects.list()).filter((info) => !info.deleted).map((info) => info.name);
    expect(objects.filter((name) => name.startsWith(`${jobId}/run/`))).toEqual([]);
    expect(objects.filter((name) => name.startsWith(`${jobId}/sub/`)).length).toBeGreaterThan(0);
  });

  test("a job asking for a label this runner lacks stays queued", async () => {
    const jobId = await submitOverNats(q, base, {
      name: "needs windows",
      script: "noop.py",
      scriptText: "print('hi')\n",
      labels: { os: "win" },
    });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await claimOf(q, jobId)).toMatchObject({ state: "queued", attempt: 0 });
    expect(await runOf(q, jobId)).toBeUndefined();
  });

  test("a cancel in KV stops a running job; one for a queued job closes it before it starts", async () => {
    const running = await submitOverNats(q, base, {
      name: "long sleep",
      script: "sleep.py",
      scriptText: SLEEP_JOB,
    });
    await waitFor(`${running} running`, async () =>
      (await runOf(q, running))?.job.status === "running" ? true : undefined,
    );
    await cancelOverNats(q, running);
    const stopped = await waitFor(`${running} cancelled; runner log:\n${runner.output()}`, async () => {
      const claim = await claimOf(q, running);
      return claim?.state === "done" ? claim : undefined;
    });
    expect(stopped).toMatchObject({ outcome: "cancelled", host });
    expect((await runOf(q, running))?.job.error?.message).toContain("changed my mind");

    // Queued, and no runner can take it (labels): the runner claims it anyway, only to cancel it.
    const queued = await submitOverNats(q, base, {
      name: "never starts",
      script: "sleep.py",
      scriptText: SLEEP_JOB,
      labels: { os: "win" },
    });
    await cancelOverNats(q, queued, "not needed");
    const closed = await waitFor(`${queued} closed`, async () => {
      const claim = await claimOf(q, queued);
      return claim?.state === "done" ? claim : undefined;
    });
    expect(closed).toMatchObject({ outcome: "cancelled", host });
    const record = await runOf(q, queued);
    expect(record?.job.started_at).toBeUndefined();
    expect(record?.job.error?.message).toContain("before it started");
  });

  test("the heartbeat is carried to runner.<host> with its labels, and says stopped after SIGTERM", async () => {
    const live = await readRecord(q.kv, runnerKey(host), CarriedFileSchema);
    expect(JSON.parse(live?.value.text ?? "{}")).toMatchObject({
      host,
      backend: "nats",
      labels: { os: "linux", nx: "2512" },
      slots: 2,
    });
    runner.child.kill("SIGTERM");
    expect(await runner.exited, runner.output()).toBe(0);
    const last = await readRecord(q.kv, runnerKey(host), CarriedFileSchema);
    expect(JSON.parse(last?.value.text ?? "{}").stopped_at).toEqual(expect.any(String));
  });

  test("a queued claim whose dispatch message was never published is announced again when a runner starts", async () => {
    // The submitter died between its KV writes and the publish: no message, the claim says queued.
    const jobId = await submitOverNats(
      q,
      base,
      { name: "never announced", script: "noop.py", scriptText: "print('hi')\n" },
      { publish: false },
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await claimOf(q, jobId)).toMatchObject({ state: "queued" });
    runner = startNatsRunner({ url: nats.url, base, host, slots: 2, extra: ["--labels", "os=linux"] });
    const claim = await waitFor(
      () => `${jobId} done; runner log:\n${runner.output()}`,
      async () => {
        const current = await claimOf(q, jobId);
        return current?.state === "done" ? current : undefined;
      },
    );
    expect(claim).toMatchObject({ host, outcome: "completed" });
    expect(runner.output()).toContain("queued job(s) announced again");
  });
});
