import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { claimJob } from "../../../protocol/nats-claims.ts";
import type { NatsQueue } from "../../../protocol/nats-connect.ts";
import { openNats } from "../../../protocol/nats-connect.ts";
import { createInboxPublisher } from "../../../runner/nats/inbox-publisher.ts";
import type { RunningNats } from "../../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../../helpers/nats-server.ts";
import { submittedJob, waitFor } from "../helpers/make-job.ts";
import { handContext } from "./helpers/bridge-parts.ts";
import { claimOf, runOf, submitOverNats } from "./helpers/nats-submitter.ts";

// A final run record is put only once every result it lists is in the Object Store as it lists it:
// whoever reads a terminal record can fetch its results.

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe.runIf(natsServerPresent())("inbox publisher", () => {
  let nats: RunningNats;
  let q: NatsQueue;
  let base: string;

  beforeEach(async () => {
    nats = await startNatsServer();
    q = await openNats({ url: nats.url });
    base = await mkdtemp(path.join(tmpdir(), "atomizer-nats-inbox-"));
  });
  afterEach(async () => {
    await q.close().catch(() => undefined);
    await nats.stop();
    await rm(base, { recursive: true, force: true, maxRetries: 5 });
  });

  test("a final job.json whose results are not there as listed waits; it is put, then committed, once they are", async () => {
    const host = "ws-inbox";
    const hand = await handContext(q, base, host, { leaseS: 30 });
    const jobId = await submitOverNats(q, base, {
      name: "results late",
      script: "noop.py",
      scriptText: "pass\n",
    });
    const claimed = await claimJob(q.kv, jobId, host, 30, new Date());
    if (!claimed.ok) throw new Error("claim failed");
    hand.ctx.book.add({
      jobId,
      revision: claimed.revision,
      attempt: 1,
      licences: [],
      lastOkMs: Date.now(),
      lastTryMs: 0,
    });
    const dir = hand.ctx.paths.inboxJob(jobId);
    await mkdir(path.join(dir, "3_results"), { recursive: true });
    const best = '{"mass": 1.25}\n';
    // The file there is not yet the one the manifest lists (still being replaced).
    await writeFile(path.join(dir, "3_results", "best.json"), '{"mass": 9}\n');
    const now = new Date().toISOString();
    const job = {
      ...submittedJob(jobId, { name: "results late", fixture: "noop.py" }, undefined, new Date()),
      job_id: jobId,
      status: "completed",
      queued_at: now,
      started_at: now,
      finished_at: now,
      exit_code: 0,
      results: {
        files: [{ path: "3_results/best.json", size: best.length, sha256: sha(best) }],
        published_at: now,
      },
    };
    await writeFile(path.join(dir, "job.json"), `${JSON.stringify(job, null, 2)}\n`);
    const publisher = createInboxPublisher(hand.ctx);
    try {
      publisher.follow(jobId);
      await waitFor(
        () => `the wait for results logged:\n${hand.lines.join("")}`,
        () => hand.lines.find((line) => line.includes("results not uploaded yet")),
      );
      expect(await runOf(q, jobId)).toBeUndefined();
      expect(await claimOf(q, jobId)).toMatchObject({ state: "claimed" });
      await writeFile(path.join(dir, "3_results", "best.json"), best);
      const claim = await waitFor(
        () => `${jobId} committed:\n${hand.lines.join("")}`,
        async () => {
          const current = await claimOf(q, jobId);
          return current?.state === "done" ? current : undefined;
        },
      );
      expect(claim).toMatchObject({ outcome: "completed", host });
      const run = await runOf(q, jobId);
      expect(run?.job.status).toBe("completed");
      expect(run?.record.files.find((file) => file.path === "3_results/best.json")?.sha256).toBe(sha(best));
    } finally {
      publisher.close();
    }
  });
});
