// The NATS job catalog under the submitting side's own operations, against a real nats-server: each
// write lands in KV (the truth) and in this side's mirror; a second machine's mirror (another state
// folder) shows the same job; the archive retires the job from KV.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Job } from "../../../protocol/index.ts";
import { buildManifest, JOB_FILE, parseJob, pathExists, transition } from "../../../protocol/index.ts";
import type { ClaimRecord, SubmissionRecord } from "../../../protocol/nats-layout.ts";
import {
  ArchivedRecordSchema,
  CarriedFileSchema,
  ClaimRecordSchema,
  jobKey,
  NATS_DISPATCH_STREAM,
  SubmissionRecordSchema,
} from "../../../protocol/nats-layout.ts";
import { readRecord } from "../../../protocol/nats-records.ts";
import type { NatsCatalog } from "../../../submitter/catalog/nats-catalog.ts";
import { natsMirrorFor } from "../../../submitter/catalog/nats-mirror-location.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { archiveJob } from "../../../submitter/operations/archive-job.ts";
import { cancelJob } from "../../../submitter/operations/cancel-job.ts";
import { fetchResults } from "../../../submitter/operations/fetch-results.ts";
import { jobStatus } from "../../../submitter/operations/job-status.ts";
import { runnerStatus } from "../../../submitter/operations/runner-status.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { natsServerPresent } from "../../helpers/nats-server.ts";
import type { NatsHarness } from "../fixtures/nats-fixture.ts";
import { putHeartbeat, putRunRecord, startNatsHarness, until } from "../fixtures/nats-fixture.ts";
import { makeStudy } from "../fixtures/study-fixture.ts";

let nats: NatsHarness;
let base: string;
let study: string;
let ctx: ServerContext;

async function context(name: string, withIndex: boolean): Promise<ServerContext> {
  return createServerContext({
    queueRoot: "unused",
    nats: { url: nats.server.url },
    stateDir: join(base, name),
    allow: [base],
    withIndex,
  });
}

beforeAll(async () => {
  if (!natsServerPresent()) return;
  nats = await startNatsHarness();
  base = await mkdtemp(join(tmpdir(), "atomizer-nats-catalog-"));
  study = await makeStudy(base);
  ctx = await context("machine-a", true);
});

afterAll(async () => {
  await ctx?.close();
  await nats?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

const record = <T>(key: string, schema: Parameters<typeof readRecord<T>>[2]) =>
  readRecord(nats.q.kv, key, schema).then((found) => found?.value);

describe.runIf(natsServerPresent())("the NATS job catalog", () => {
  let jobId: string;

  test("submit_job: KV holds the job.json text, its files and labels, a queued claim and one dispatch; the mirror the same job", async () => {
    const result = await submitJob(
      ctx,
      { study_dir: study, name: "nats catalog", project: "starspec-m1-wfe", labels: { nx: "2512" } },
      "study-builder",
    );
    jobId = result.job_id;
    const location = natsMirrorFor(join(base, "machine-a"), nats.server.url);
    expect(ctx.queue.root).toBe(location.queueRoot);
    expect(result.outbox_dir).toBe(join(location.queueRoot, "outbox", jobId));
    const mirrored = await readFile(join(result.outbox_dir, JOB_FILE), "utf8");
    const sub = await record<SubmissionRecord>(jobKey(jobId, "sub"), SubmissionRecordSchema);
    expect(sub?.job).toBe(mirrored);
    expect(sub?.labels).toEqual({ nx: "2512" });
    expect(parseJob(JSON.parse(mirrored)).labels).toEqual({ nx: "2512" });
    expect(sub?.files.map((file) => file.path).sort()).toEqual(
      (parseJob(JSON.parse(mirrored)).files ?? []).map((file) => file.path).sort(),
    );
    expect(await record<ClaimRecord>(jobKey(jobId, "claim"), ClaimRecordSchema)).toMatchObject({
      state: "queued",
      attempt: 0,
    });
    expect((await nats.q.jsm.streams.info(NATS_DISPATCH_STREAM)).state.messages).toBe(1);
    expect(await ctx.catalog.isTaken(jobId)).toBe(true);
    expect((await jobStatus(ctx, jobId)).state).toBe("submitted");
  });

  test("another machine's one-shot command (its own state folder) syncs the job before it reads", async () => {
    const other = await context("machine-b", false);
    try {
      expect((await jobStatus(other, jobId)).state).toBe("submitted");
      const there = await readFile(join(other.queue.outbox, jobId, JOB_FILE), "utf8");
      expect(there).toBe(await readFile(join(ctx.queue.outbox, jobId, JOB_FILE), "utf8"));
    } finally {
      await other.close();
    }
  });

  test("on one machine one process downloads: a command beside the server reads its mirror, a second server takes over when it stops", async () => {
    expect((ctx.catalog as NatsCatalog).downloading).toBe(true);
    const command = await context("machine-a", false);
    try {
      expect((command.catalog as NatsCatalog).downloading).toBe(false);
      expect((await jobStatus(command, jobId)).state).toBe("submitted");
    } finally {
      await command.close();
    }
    const second = await context("machine-a", true);
    expect((second.catalog as NatsCatalog).downloading).toBe(false);
    await ctx.close();
    ctx = second;
    await until("the second server to take the mirror over", async () =>
      (second.catalog as NatsCatalog).downloading ? true : undefined,
    );
    await putHeartbeat(nats.q, "ws-takeover", '{"host": "ws-takeover"}\n');
    await until("the new holder mirroring", () =>
      readFile(join(second.queue.runnersDir, "ws-takeover.json"), "utf8").catch(() => undefined),
    );
    await nats.q.kv.delete("runner.ws-takeover");
    await until("the heartbeat removed again", async () =>
      (await pathExists(join(second.queue.runnersDir, "ws-takeover.json"))) ? undefined : true,
    );
  });

  test("an id held only in KV is taken, and publishing under it says so", async () => {
    const id = "job-20260210-143022-held-elsewhere";
    await nats.q.kv.put(jobKey(id, "archived"), new TextEncoder().encode("{}"));
    expect(await ctx.catalog.isTaken(id)).toBe(true);
    expect(await ctx.catalog.publishSubmission(id, join(base, "nothing-staged"))).toEqual({
      published: false,
      reason: "taken",
    });
  });

  test("cancel_job writes job.<id>.cancel and the mirror's request; asking again returns the first", async () => {
    const first = await cancelJob(ctx, { job_id: jobId, reason: "wrong mesh" }, "study-builder");
    expect(first.already_requested).toBe(false);
    const carried = await record(jobKey(jobId, "cancel"), CarriedFileSchema);
    expect(JSON.parse(carried?.text ?? "{}")).toMatchObject({ job_id: jobId, reason: "wrong mesh" });
    expect(await readFile(join(ctx.queue.cancelDir, `${jobId}.json`), "utf8")).toBe(carried?.text);
    const again = await cancelJob(ctx, { job_id: jobId, reason: "other" }, "manager");
    expect(again).toMatchObject({ already_requested: true, requested_by: "study-builder" });
  });

  test("runner_status says the backend is NATS, with the URL, and lists runners from KV", async () => {
    await putHeartbeat(
      nats.q,
      "ws-one",
      `${JSON.stringify({ host: "ws-one", version: "0.1.0", slots: 2, running: [], queued: [], started_at: new Date().toISOString(), last_seen: new Date().toISOString(), interval_s: 10 })}\n`,
    );
    const status = await until("the heartbeat mirrored", async () => {
      const result = await runnerStatus(ctx);
      return result.runners.length > 0 ? result : undefined;
    });
    expect(status).toMatchObject({ backend: "nats", nats_url: nats.server.url, active: 1 });
    expect(status.runners[0]?.host).toBe("ws-one");
  });

  test("a finished job: fetch_results records the receipt in KV, archive_job retires it from KV", async () => {
    const submitted = parseJob(JSON.parse(await readFile(join(ctx.queue.outbox, jobId, JOB_FILE), "utf8")));
    const results = { "stdout.log": "done\n", "3_results/best.json": '{"wfe": 12.5}\n' };
    const scratch = await mkdtemp(join(tmpdir(), "atomizer-nats-results-"));
    await mkdir(join(scratch, "3_results"));
    for (const [path, text] of Object.entries(results)) await writeFile(join(scratch, path), text);
    let job: Job = transition(submitted, "queued", {
      runner: { host: "ws-one", version: "0.1.0", heartbeat_s: 30 },
    });
    job = transition(job, "running");
    job = transition(job, "completed", {
      exit_code: 0,
      results: { files: await buildManifest(scratch), published_at: new Date().toISOString() },
    });
    await putRunRecord(nats.q, jobId, `${JSON.stringify(job, null, 2)}\n`, results, "ws-one");
    await until("the finished job mirrored", async () => {
      const view = await jobStatus(ctx, jobId);
      return view.state === "completed" && "results" in view && view.results.complete ? view : undefined;
    });

    const fetched = await fetchResults(ctx, { job_id: jobId, max_images: 0 }, "study-builder");
    expect(fetched.summary.complete).toBe(true);
    const receipt = await record(jobKey(jobId, "fetch"), CarriedFileSchema);
    expect(JSON.parse(receipt?.text ?? "{}")).toMatchObject({ job_id: jobId, status: "completed" });

    const archived = await archiveJob(ctx, { job_id: jobId });
    expect(archived.already_archived).toBe(false);
    for (const part of ["sub", "claim", "cancel"] as const) {
      expect((await nats.q.kv.get(jobKey(jobId, part)))?.operation, part).not.toBe("PUT");
    }
    const objects = (await nats.q.objects.list()).filter((info) => info.name.startsWith(`${jobId}/sub/`));
    expect(objects).toEqual([]);
    expect(await record(jobKey(jobId, "archived"), ArchivedRecordSchema)).toMatchObject({
      archived_at: expect.any(String),
    });
    expect((await jobStatus(ctx, jobId)).state).toBe("archived");
    expect((ctx.catalog as NatsCatalog).url).toBe(nats.server.url);
  });
});
