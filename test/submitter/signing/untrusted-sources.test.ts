// What the submitting side takes from the shared folders when it has the workstation's key: only what
// the workstation's signed record lists (fetch_results), only a study it signed (resume_from), and only
// a job this server's own key signed (idempotency_key). Each case is an attack found in review.
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Job } from "../../../protocol/index.ts";
import {
  hashFile,
  loadSigningKey,
  loadTrustedKeys,
  transition,
  writeJsonAtomic,
} from "../../../protocol/index.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { fetchText } from "../../../submitter/mcp/tool-text.ts";
import { fetchResults } from "../../../submitter/operations/fetch-results.ts";
import { OperationError } from "../../../submitter/operations/operation-error.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { acceptJob, finishJob, makeQueue, startJob } from "../fixtures/runner-fixture.ts";
import { makeKeys, signInboxRecord } from "../fixtures/signing-fixture.ts";
import { makeStudy } from "../fixtures/study-fixture.ts";

const contexts: ServerContext[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function setup(withKeys = true) {
  const { base, queue } = await makeQueue();
  dirs.push(base);
  const keys = await makeKeys(base);
  const open = async (signing: boolean) => {
    const ctx = await createServerContext({
      queueRoot: queue.root,
      allow: [base],
      withIndex: false,
      ...(signing ? { signingKey: await loadSigningKey(keys.submitter.key) } : {}),
      trustedKeys: withKeys ? await loadTrustedKeys([keys.workstation.pub]) : [],
    });
    contexts.push(ctx);
    return ctx;
  };
  return { base, queue, keys, study: await makeStudy(base), open };
}

/** The OperationError a call refused with (the test fails if it did not refuse). */
async function refusal(promise: Promise<unknown>): Promise<OperationError> {
  const caught = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(caught).toBeInstanceOf(OperationError);
  return caught as OperationError;
}

describe("the submitting side trusts only what the workstation signed", () => {
  it("fetch_results copies no file a signed record does not list, and says nothing was verified", async () => {
    const { queue, keys, study, open } = await setup();
    const ctx = await open(true);
    const { job_id: jobId } = await submitJob(
      ctx,
      { study_dir: study, name: "queued then cancelled", project: "p" },
      "sb",
    );
    await acceptJob(queue, jobId);
    const record = join(queue.inbox, jobId, "job.json");
    const queued = JSON.parse(await readFile(record, "utf8")) as Job;
    await writeJsonAtomic(
      record,
      transition(queued, "cancelled", { error: { kind: "cancelled", message: "while queued" } }),
    );
    await signInboxRecord(queue, jobId, keys.workstation);
    // Planted beside the signed record, which lists no results.
    await writeFile(join(queue.inbox, jobId, "stdout.log"), "planted\n");
    const { summary } = await fetchResults(ctx, { job_id: jobId, max_images: 0 }, "optimizer");
    expect(summary).toMatchObject({
      runner_signature: "verified",
      complete: false,
      files_copied: 0,
      files_total: 0,
    });
    await expect(stat(join(summary.work_dir, "stdout.log"))).rejects.toThrow(/ENOENT/);
    expect(fetchText(summary).join("\n")).toMatch(
      /nothing can be verified[\s\S]*only the files it lists count/,
    );
  });

  it("resume_from refuses a study whose record the workstation did not sign (a swapped study.db)", async () => {
    const { base, queue, keys, study, open } = await setup();
    const ctx = await open(true);
    const { job_id: jobId } = await submitJob(ctx, { study_dir: study, name: "first", project: "p" }, "sb");
    await acceptJob(queue, jobId);
    await startJob(queue, jobId);
    const results = await mkdtemp(join(base, "results-"));
    await writeFile(join(results, "study.db"), "the workstation's study");
    await finishJob(queue, jobId, "completed", { resultsDir: results });
    await signInboxRecord(queue, jobId, keys.workstation, (job) => job);
    // The attacker swaps study.db and makes the manifest match it: the signature no longer does.
    const target = join(queue.inbox, jobId, "3_results", "study.db");
    await copyFile(join(study, "run_optimization.py"), target);
    const swapped = await hashFile(target);
    await signInboxRecord(queue, jobId, undefined, (job) => ({
      ...job,
      runner_signature: (job as Record<string, unknown>).runner_signature,
      results: {
        published_at: job.results?.published_at ?? "",
        files: [{ path: "3_results/study.db", ...swapped }],
      },
    }));
    const refused = await refusal(
      submitJob(ctx, { study_dir: study, name: "resumed", project: "p", resume_from: jobId }, "sb"),
    );
    expect(refused.code).toBe("forbidden");
    expect(refused.message).toMatch(/cannot be shown to come from the workstation/);
  });

  it("an idempotency_key that found a job this server's key did not sign is refused, not returned as signed", async () => {
    const { study, open } = await setup(false);
    const before = await submitJob(
      await open(false),
      { study_dir: study, name: "unsigned", project: "p", idempotency_key: "k1" },
      "sb",
    );
    const refused = await refusal(
      submitJob(
        await open(true),
        { study_dir: study, name: "unsigned", project: "p", idempotency_key: "k1" },
        "sb",
      ),
    );
    expect(refused.code).toBe("conflict");
    expect(refused.message).toContain(before.job_id);
    expect(refused.message).toMatch(/not signed by this server's key/);
  });
});
