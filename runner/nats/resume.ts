import { readdir } from "node:fs/promises";
import path from "node:path";
import { errnoCode, pathExists, removeTree } from "../../protocol/index.ts";
import { returnLicences } from "../../protocol/nats-claims.ts";
import type { ClaimRecord } from "../../protocol/nats-layout.ts";
import {
  CarriedFileSchema,
  ClaimRecordSchema,
  jobKey,
  NATS_DISPATCH_SUBJECT,
  parseJobKey,
} from "../../protocol/nats-layout.ts";
import { readRecord } from "../../protocol/nats-records.ts";
import { errorMessage } from "../log.ts";
import type { BridgeContext, HeldClaim } from "./bridge-context.ts";
import { renewOne, retryLocal } from "./claim-lease.ts";
import { dropRunRecord } from "./inbox-publisher.ts";
import { licencesHeldHere } from "./licence-pools.ts";
import { writeLocalCancel } from "./local-outbox.ts";

// A runner coming back takes up every claim its host holds: no other host starts a job whose claim
// lapsed, so the job is this host's to adopt (its supervisor ran on), to report failed/runner_restart
// (the runner's own recovery decides), or to start if it never got that far.

/** Every `job.<id>.<part>` key of one part, with the job ids. */
async function jobIdsWith(ctx: BridgeContext, part: "claim" | "run"): Promise<string[]> {
  const ids: string[] = [];
  for await (const key of await ctx.q.kv.keys(`job.*.${part}`)) {
    const parsed = parseJobKey(key);
    if (parsed) ids.push(parsed.jobId);
  }
  return ids;
}

/** The claim records, read one by one (a record that cannot be read is logged and left alone). */
async function readClaims(
  ctx: BridgeContext,
): Promise<Array<{ jobId: string; claim: ClaimRecord; revision: number }>> {
  const found = [];
  for (const jobId of await jobIdsWith(ctx, "claim")) {
    try {
      const read = await readRecord(ctx.q.kv, jobKey(jobId, "claim"), ClaimRecordSchema);
      if (read) found.push({ jobId, claim: read.value, revision: read.revision });
    } catch (error) {
      ctx.log("claim unreadable", jobId, errorMessage(error));
    }
  }
  return found;
}

/**
 * Takes up this host's claims (renewed at once, the submission downloaded again when neither the
 * local outbox nor inbox has the job, a cancel request copied), returns licences held without a
 * claim, and removes what a crash left in .staging/. Runs before dispatch starts.
 */
export async function resumeClaims(ctx: BridgeContext): Promise<number> {
  const claims = await readClaims(ctx);
  const nowMs = ctx.now().getTime();
  for (const { jobId, claim, revision } of claims) {
    if (claim.state !== "claimed" || claim.host !== ctx.host) continue;
    ctx.book.add({ jobId, revision, attempt: claim.attempt, licences: [], lastOkMs: nowMs, lastTryMs: 0 });
  }
  const licences = await reconcileLicences(ctx);
  for (const held of ctx.book.all()) {
    held.licences = licences.get(held.jobId) ?? [];
    await ctx.serial
      .run(held.jobId, () => resumeOne(ctx, held))
      .catch((error: unknown) =>
        ctx.log("resume failed", held.jobId, `${errorMessage(error)}; the lease keeper tries again`),
      );
  }
  await sweepStaging(ctx);
  return ctx.book.all().length;
}

/**
 * Licences this host holds for jobs it holds no claim for: taken just before a crash or a lost answer
 * kept the claim from landing, or kept after a done commit whose return was cut short. Each is looked
 * at in its job's lane (so never between a take and its claim): a claim that did land after all is
 * taken up, any other licence goes back to the pool.
 */
export async function reconcileLicences(ctx: BridgeContext): Promise<Map<string, string[]>> {
  const held = await licencesHeldHere(ctx, ctx.pools);
  for (const [jobId, classes] of held) {
    if (ctx.book.has(jobId)) continue;
    await ctx.serial
      .run(jobId, async () => {
        if (ctx.book.has(jobId)) return;
        const claim = await readRecord(ctx.q.kv, jobKey(jobId, "claim"), ClaimRecordSchema);
        if (claim?.value.state === "claimed" && claim.value.host === ctx.host) {
          await adoptHeld(ctx, jobId, claim.value.attempt, claim.revision, classes);
          return;
        }
        await returnLicences(ctx.q.kv, classes, jobId, ctx.host);
        ctx.log(
          "licence returned",
          jobId,
          `${classes.join(", ")}: held by this host without a claim (a crash or a lost answer in between)`,
        );
      })
      .catch((error: unknown) => ctx.log("licence check failed", jobId, errorMessage(error)));
  }
  return held;
}

async function adoptHeld(
  ctx: BridgeContext,
  jobId: string,
  attempt: number,
  revision: number,
  licences: string[],
): Promise<HeldClaim> {
  const nowMs = ctx.now().getTime();
  const held: HeldClaim = { jobId, revision, attempt, licences, lastOkMs: nowMs, lastTryMs: 0 };
  ctx.book.add(held);
  await resumeOne(ctx, held);
  return held;
}

/**
 * A claim `claimed` by this host that this process does not hold: a claim write that landed though
 * its answer and the read-back after it were lost. It is this host's job, taken up as at a start
 * (with the licences the pools say this host holds for it). Call inside the job's lane; the held
 * claim, or undefined when the book has the job already or the claim is not this host's.
 */
export async function adoptOrphan(
  ctx: BridgeContext,
  jobId: string,
  claim: ClaimRecord,
  revision: number,
): Promise<HeldClaim | undefined> {
  if (ctx.book.has(jobId) || claim.state !== "claimed" || claim.host !== ctx.host) return undefined;
  const licences = (await licencesHeldHere(ctx, ctx.pools)).get(jobId) ?? [];
  ctx.log(
    "claim adopted",
    jobId,
    `claimed by this host (attempt ${claim.attempt}) but not held: a claim whose answer was lost`,
  );
  return adoptHeld(ctx, jobId, claim.attempt, revision, licences);
}

async function resumeOne(ctx: BridgeContext, held: HeldClaim): Promise<void> {
  await renewOne(ctx, held);
  if (ctx.book.get(held.jobId) !== held) return;
  // First: whatever fails below is retried (the lease keeper, the cancel watch), the follow is not.
  ctx.follow(held.jobId);
  const cancel = await readRecord(ctx.q.kv, jobKey(held.jobId, "cancel"), CarriedFileSchema);
  if (cancel) await writeLocalCancel(ctx, held.jobId, cancel.value.text);
  const local =
    (await pathExists(ctx.paths.outboxJob(held.jobId))) || (await pathExists(ctx.paths.inboxJob(held.jobId)));
  if (!local) await retryLocal(ctx, held);
  ctx.log(
    "claim resumed",
    held.jobId,
    `attempt ${held.attempt}${local ? "" : ", submission downloaded again"}`,
  );
}

/** Staging folders of jobs this host does not hold: left by a crash, or by a claim lost meanwhile. */
async function sweepStaging(ctx: BridgeContext): Promise<void> {
  let names: string[];
  try {
    names = await readdir(ctx.stagingDir);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return;
    throw error;
  }
  for (const name of names) if (!ctx.book.has(name)) await removeTree(path.join(ctx.stagingDir, name));
}

/** Run records of this host whose local inbox folder is gone (cleaned up while the bridge was away). */
export async function sweepRunRecords(ctx: BridgeContext): Promise<void> {
  for (const jobId of await jobIdsWith(ctx, "run")) {
    if (ctx.book.has(jobId) || (await pathExists(ctx.paths.inboxJob(jobId)))) continue;
    await ctx.serial
      .run(jobId, () => dropRunRecord(ctx, jobId))
      .catch((error: unknown) => ctx.log("run record cleanup failed", jobId, errorMessage(error)));
  }
}

/**
 * Publishes the dispatch message again for every queued claim: a submitter that died between its KV
 * writes and the publish left a job no runner would hear of. Nats-Msg-Id is the job id, so within the
 * duplicate window this is a no-op, and a spare message later is acked by whoever reads it.
 */
export async function republishQueued(ctx: BridgeContext): Promise<number> {
  let count = 0;
  for (const { jobId, claim } of await readClaims(ctx)) {
    if (claim.state === "claimed" && claim.host === ctx.host && !ctx.book.has(jobId) && !ctx.isStopping()) {
      // Read again in the lane: the record read above may be older than a commit made since.
      await ctx.serial
        .run(jobId, async () => {
          const current = await readRecord(ctx.q.kv, jobKey(jobId, "claim"), ClaimRecordSchema);
          if (current) await adoptOrphan(ctx, jobId, current.value, current.revision);
        })
        .catch((error: unknown) => ctx.log("claim adoption failed", jobId, errorMessage(error)));
      continue;
    }
    if (claim.state !== "queued") continue;
    await ctx.q.js.publish(NATS_DISPATCH_SUBJECT, jobId, { msgID: jobId });
    count++;
  }
  return count;
}
