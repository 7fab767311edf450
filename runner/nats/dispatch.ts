import type { Consumer, JsMsg } from "@nats-io/jetstream";
import { isJobId, pathExists } from "../../protocol/index.ts";
import type { ClaimOutcome } from "../../protocol/nats-claims.ts";
import { claimJob, returnLicences, takeLicences } from "../../protocol/nats-claims.ts";
import type { ClaimRecord, SubmissionRecord } from "../../protocol/nats-layout.ts";
import {
  ClaimRecordSchema,
  jobKey,
  NATS_DISPATCH_CONSUMER,
  NATS_DISPATCH_STREAM,
  SubmissionRecordSchema,
} from "../../protocol/nats-layout.ts";
import { readRecord } from "../../protocol/nats-records.ts";
import { errorMessage } from "../log.ts";
import type { BridgeContext, HeldClaim } from "./bridge-context.ts";
import { retryLocal } from "./claim-lease.ts";
import { labelMismatch, licenceClassesFor } from "./dispatch-rules.ts";
import { adoptOrphan } from "./resume.ts";

// Takes jobs from the work queue while this runner has a free slot. The message only wakes a runner:
// the claim record decides, by CAS, and a message about a job that someone else holds (or that is
// done) is acked and forgotten.

/** What became of one message. "later": this runner cannot take it now (labels, licences, slots). */
export type Verdict = "taken" | "later" | "dropped" | "held";

/** How long dispatch rests after a message it could not take, at most: a freed licence or slot wakes it. */
const MAX_REST_MS = 2000;
const FETCH_EXPIRES_MS = 2000;

function newHeld(
  jobId: string,
  claim: ClaimRecord,
  revision: number,
  licences: string[],
  nowMs: number,
): HeldClaim {
  return {
    jobId,
    revision,
    attempt: claim.state === "queued" ? 0 : claim.attempt,
    licences,
    lastOkMs: nowMs,
    lastTryMs: nowMs,
  };
}

/**
 * A claim write whose answer never came (the connection dropped): the record says whether it landed.
 * Licences are returned only when it provably did not; otherwise this host's next start sorts them out.
 */
async function afterFailedClaim(
  ctx: BridgeContext,
  jobId: string,
  classes: string[],
  error: unknown,
): Promise<ClaimOutcome> {
  const current = await readRecord(ctx.q.kv, jobKey(jobId, "claim"), ClaimRecordSchema).catch(() => {
    throw error;
  });
  if (current?.value.state === "claimed" && current.value.host === ctx.host)
    return { ok: true, claim: current.value, revision: current.revision };
  if (current?.value.state === "queued") await returnLicences(ctx.q.kv, classes, jobId, ctx.host);
  throw error;
}

/**
 * queued -> claimed by this host, then the submission into the local outbox. With `licences` false
 * (a job claimed only to cancel it) no licence is taken: the cancel request lands before the job does.
 */
export async function claimHere(
  ctx: BridgeContext,
  jobId: string,
  sub: SubmissionRecord,
  options: { licences: boolean; msg?: JsMsg },
): Promise<"taken" | "later" | "lost"> {
  const classes = options.licences ? licenceClassesFor(sub, ctx.nxJobTypes, ctx.pools) : [];
  if (classes.length > 0) {
    const taken = await takeLicences(ctx.q.kv, classes, jobId, ctx.host, ctx.now());
    if (!taken.ok) return "later";
  }
  const outcome = await claimJob(ctx.q.kv, jobId, ctx.host, ctx.nats.leaseS, ctx.now()).catch(
    (error: unknown) => afterFailedClaim(ctx, jobId, classes, error),
  );
  if (!outcome.ok) {
    await returnLicences(ctx.q.kv, classes, jobId, ctx.host);
    return outcome.current?.state === "queued" ? "later" : "lost";
  }
  const held = newHeld(jobId, outcome.claim, outcome.revision, classes, ctx.now().getTime());
  if (options.msg) held.msg = options.msg;
  ctx.book.add(held);
  ctx.log(
    "claimed",
    jobId,
    `attempt ${held.attempt}${classes.length > 0 ? `, licences ${classes.join(", ")}` : ""}`,
  );
  ctx.follow(jobId);
  await retryLocal(ctx, held);
  return "taken";
}

/** The local queue has the job already: this runner took it before (a requeue brought it back). */
export async function knownLocally(ctx: BridgeContext, jobId: string): Promise<boolean> {
  return (await pathExists(ctx.paths.outboxJob(jobId))) || (await pathExists(ctx.paths.inboxJob(jobId)));
}

function noteOnce(ctx: BridgeContext, key: string, event: string, jobId: string, detail: string): void {
  if (ctx.noted.has(key)) return;
  ctx.noted.add(key);
  ctx.log(event, jobId, detail);
}

/** Handles one dispatch message inside the job's lane. */
export async function handleMessage(ctx: BridgeContext, msg: JsMsg): Promise<Verdict> {
  const jobId = msg.string().trim();
  const nakMs = ctx.nats.nakDelayS * 1000;
  if (!isJobId(jobId)) {
    ctx.log("dispatch", undefined, `message ${JSON.stringify(jobId.slice(0, 80))} is not a job id: dropped`);
    msg.ack();
    return "dropped";
  }
  const mine = ctx.book.get(jobId);
  if (mine) {
    // A redelivery of a job this host resumed: held until its done commit. A second message for it
    // (a dispatch announced again) wakes nobody else usefully: acked.
    if (mine.msg) msg.ack();
    else mine.msg = msg;
    return "held";
  }
  const claim = await readRecord(ctx.q.kv, jobKey(jobId, "claim"), ClaimRecordSchema);
  if (claim?.value.state === "claimed" && claim.value.host === ctx.host && !ctx.isStopping()) {
    const adopted = await adoptOrphan(ctx, jobId, claim.value, claim.revision);
    if (adopted && ctx.book.get(jobId) === adopted) {
      adopted.msg = msg;
      return "held";
    }
  }
  if (claim?.value.state !== "queued") {
    msg.ack();
    return "dropped";
  }
  if (await knownLocally(ctx, jobId)) {
    // Requeued by an operator after it ran here: this runner's ledger never runs an id twice, so
    // another host must take it.
    msg.nak(nakMs);
    return "later";
  }
  if (ctx.isStopping() || ctx.book.liveCount() >= ctx.slots) {
    msg.nak();
    return "later";
  }
  const sub = await readRecord(ctx.q.kv, jobKey(jobId, "sub"), SubmissionRecordSchema);
  if (!sub) {
    // Retired before anyone took it: nothing to run.
    msg.ack();
    return "dropped";
  }
  const mismatch = labelMismatch(sub.value.labels, ctx.nats.labels);
  if (mismatch) {
    noteOnce(ctx, `labels:${jobId}`, "not for this runner", jobId, `${mismatch}; left for another runner`);
    msg.nak(nakMs);
    return "later";
  }
  const verdict = await claimHere(ctx, jobId, sub.value, { licences: true, msg });
  if (verdict === "later") msg.nak(nakMs);
  if (verdict === "lost") msg.ack();
  return verdict === "lost" ? "dropped" : verdict;
}

export interface Dispatcher {
  /** Resolves once the loop has ended (after stop()). */
  done: Promise<void>;
  stop(): void;
  wake(): void;
}

/** The pull loop: one message at a time, only while a slot is free. */
export function startDispatch(ctx: BridgeContext): Dispatcher {
  let stopped = false;
  let rest: (() => void) | undefined;
  const wake = () => {
    rest?.();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        rest = undefined;
        resolve();
      }, ms);
      rest = () => {
        clearTimeout(timer);
        rest = undefined;
        resolve();
      };
    });
  const loop = async () => {
    let misses = 0;
    let failing: string | undefined;
    let consumer: Consumer | undefined;
    while (!stopped) {
      if (ctx.book.liveCount() >= ctx.slots) {
        await sleep(MAX_REST_MS);
        continue;
      }
      let msg: JsMsg | null;
      try {
        consumer ??= await ctx.q.js.consumers.get(NATS_DISPATCH_STREAM, NATS_DISPATCH_CONSUMER);
        msg = await consumer.next({ expires: FETCH_EXPIRES_MS });
        if (failing) ctx.log("dispatch", undefined, `taking jobs again (after: ${failing})`);
        failing = undefined;
      } catch (error) {
        if (!failing)
          ctx.log(
            "dispatch",
            undefined,
            `cannot fetch from the work queue (${errorMessage(error)}); trying again`,
          );
        failing = errorMessage(error);
        consumer = undefined;
        await sleep(1000);
        continue;
      }
      if (!msg) continue;
      if (stopped) {
        msg.nak();
        break;
      }
      const taken = msg;
      const verdict = await ctx.serial
        .run(taken.string().trim(), () => handleMessage(ctx, taken))
        .catch((error: unknown) => {
          ctx.log("dispatch failed", taken.string().trim(), errorMessage(error));
          taken.nak(ctx.nats.nakDelayS * 1000);
          return "later" as const;
        });
      // A job this runner cannot take now rests the loop a little longer each time (until a licence
      // or a slot frees): going round every queued job without a pause would keep NATS busy for nothing.
      misses = verdict === "later" ? misses + 1 : 0;
      if (misses > 0) await sleep(Math.min(50 * 2 ** Math.min(misses, 6), MAX_REST_MS));
    }
  };
  const done = loop().catch((error: unknown) => ctx.log("dispatch stopped", undefined, errorMessage(error)));
  return {
    done,
    stop() {
      stopped = true;
      wake();
    },
    wake,
  };
}
