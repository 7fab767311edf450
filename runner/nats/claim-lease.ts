import type { TerminalStatus } from "../../protocol/index.ts";
import { isProtocolError } from "../../protocol/index.ts";
import type { ClaimOutcome } from "../../protocol/nats-claims.ts";
import { commitClaim, renewClaim, returnLicences } from "../../protocol/nats-claims.ts";
import type { ClaimRecord } from "../../protocol/nats-layout.ts";
import { errorMessage } from "../log.ts";
import { leaseTickMs } from "./bridge-config.ts";
import type { BridgeContext, HeldClaim } from "./bridge-context.ts";
import { failUndownloadable, materialize } from "./local-outbox.ts";

// The lease on each claim this host holds: renewed by CAS every third of the lease, and the job
// stopped when no renew succeeds within half of it (as HTCondor's job lease does). No other host takes
// a lapsed claim over on its own, so the one risk left is this host running on while an operator
// requeued the job: the half-lease stop ends that before the lease runs out.

function describe(claim: ClaimRecord | undefined): string {
  if (!claim) return "the claim record is gone";
  if (claim.state === "queued") return "the claim was put back in the queue";
  return `the claim is ${claim.state} by ${claim.host} (attempt ${claim.attempt})`;
}

/** The claim is no longer this host's to renew or commit: stop its job, give its licences back, and forget it. */
async function lose(ctx: BridgeContext, held: HeldClaim, why: string): Promise<void> {
  ctx.book.remove(held.jobId);
  // Back to the work queue at once: a requeued job is another host's to take (this one never runs an id twice).
  held.msg?.nak();
  held.msg = undefined;
  await stopLocalJob(ctx, held, why);
  // Only this host's entries go: another host may hold this job's licence by now.
  await returnLicences(ctx.q.kv, held.licences, held.jobId, ctx.host).catch((error: unknown) =>
    ctx.log(
      "licence return failed",
      held.jobId,
      `${errorMessage(error)}; the licence check returns it later`,
    ),
  );
  ctx.wake();
}

/** Stops the job through the runner itself (no cancel file: a runner with --trust-key ignores an unsigned one). */
async function stopLocalJob(ctx: BridgeContext, held: HeldClaim, why: string): Promise<void> {
  if (held.killed) return;
  const outcome = await ctx.jobs.stopJob(held.jobId, `claim lease lost: ${why}`);
  // Nothing local yet (the download is still to come): the next round stops it if it lands meanwhile.
  if (outcome === "absent") return;
  held.killed = true;
  ctx.log("claim lease lost", held.jobId, `${why}: the job is stopped here`);
}

/**
 * The record stands at another revision than this host last wrote, yet is this host's claim of this
 * attempt: a write of ours whose answer was lost on the way back landed after all. Its revision.
 */
function ownLandedWrite(ctx: BridgeContext, held: HeldClaim, outcome: ClaimOutcome): number | undefined {
  if (outcome.ok || outcome.revision === undefined || outcome.revision === held.revision) return undefined;
  const current = outcome.current;
  if (current?.state !== "claimed" || current.host !== ctx.host || current.attempt !== held.attempt)
    return undefined;
  return outcome.revision;
}

/** One renew of one claim; call inside the job's lane. */
export async function renewOne(ctx: BridgeContext, held: HeldClaim): Promise<void> {
  if (ctx.book.get(held.jobId) !== held || held.committed) return;
  const nowMs = ctx.now().getTime();
  held.lastTryMs = nowMs;
  try {
    const renew = () => renewClaim(ctx.q.kv, held.jobId, ctx.host, held.revision, ctx.nats.leaseS, ctx.now());
    let outcome = await renew();
    const landed = ownLandedWrite(ctx, held, outcome);
    if (landed !== undefined) {
      ctx.log(
        "claim lease",
        held.jobId,
        `a renew whose answer was lost had landed (revision ${landed}): renewed from there`,
      );
      held.revision = landed;
      outcome = await renew();
    }
    if (outcome.ok) {
      held.revision = outcome.revision;
      held.lastOkMs = nowMs;
      if (held.failing) ctx.log("claim lease renewed", held.jobId, `after: ${held.failing}`);
      held.failing = undefined;
      return;
    }
    const current = outcome.current;
    // A commit whose answer was lost on the way back landed after all.
    if (current?.state === "done" && current.host === ctx.host && outcome.revision !== undefined) {
      held.revision = outcome.revision;
      await finishCommitted(ctx, held);
      return;
    }
    await lose(ctx, held, describe(current));
  } catch (error) {
    const failing = `cannot renew the claim (${errorMessage(error)})`;
    if (!held.failing) ctx.log("claim lease", held.jobId, `${failing}; trying again`);
    held.failing = failing;
    await stopIfLapsing(ctx, held, failing);
  }
}

/** Stops the job once no renew has succeeded for half the lease; needs no NATS, so it runs outside the job's lane. */
async function stopIfLapsing(ctx: BridgeContext, held: HeldClaim, why: string | undefined): Promise<void> {
  const silentMs = ctx.now().getTime() - held.lastOkMs;
  if (held.killed || held.committed || silentMs <= (ctx.nats.leaseS * 1000) / 2) return;
  await stopLocalJob(
    ctx,
    held,
    `no renew for ${Math.round(silentMs / 1000)} s, half the ${ctx.nats.leaseS} s lease (${why ?? "the renew has not answered"})`,
  );
}

/** After the done commit: the message is acked and the licences go back to the pool. */
async function finishCommitted(ctx: BridgeContext, held: HeldClaim): Promise<void> {
  held.committed = true;
  held.msg?.ack();
  held.msg = undefined;
  await returnLicences(ctx.q.kv, held.licences, held.jobId, ctx.host);
  ctx.book.remove(held.jobId);
  ctx.wake();
}

/**
 * claimed -> done with the job's local outcome; call inside the job's lane once its final inbox
 * record and every result are in the Object Store. A commit that throws (NATS away) is tried again
 * by the caller; one that finds the claim no longer this host's stops the job and forgets it.
 */
export async function commitDone(
  ctx: BridgeContext,
  held: HeldClaim,
  outcome: TerminalStatus,
): Promise<void> {
  if (!held.committed) {
    const commit = () => commitClaim(ctx.q.kv, held.jobId, ctx.host, held.revision, outcome, ctx.now());
    let result = await commit();
    const landed = ownLandedWrite(ctx, held, result);
    if (landed !== undefined) {
      held.revision = landed;
      result = await commit();
    }
    const current = result.ok ? result.claim : result.current;
    const mine = current?.state === "done" && current.host === ctx.host;
    if (!result.ok && current === undefined) {
      // Retired (the claim deleted) after the final record was put: the job is over, nothing to stop.
      ctx.log(
        "claim gone",
        held.jobId,
        `its claim record was deleted after its ${outcome} end was published: finished here`,
      );
      await finishCommitted(ctx, held);
      return;
    }
    if (!result.ok && !mine) {
      await lose(ctx, held, describe(current));
      return;
    }
    if (result.revision !== undefined) held.revision = result.revision;
    ctx.log("claim done", held.jobId, `${outcome}, attempt ${held.attempt}`);
  }
  await finishCommitted(ctx, held);
}

export interface LeaseKeeper {
  stop(): void;
}

/**
 * Every tick: renews the claims due (a third of the lease since the last try, or failing), keeps the
 * held dispatch messages from redelivery, retries what a NATS outage left undone (a download, the
 * licence return after a commit).
 */
export function keepLeases(ctx: BridgeContext): LeaseKeeper {
  const tickMs = leaseTickMs(ctx.nats.leaseS);
  // Half a round early rather than a round late: timers drift by a few ms.
  const renewEveryMs = (ctx.nats.leaseS * 1000) / 3 - tickMs / 2;
  const busy = new Set<HeldClaim>();
  const tick = () => {
    const nowMs = ctx.now().getTime();
    for (const held of ctx.book.all()) {
      // Cheap and fire-and-forget: AckWait (30 s) is far shorter than a run.
      held.msg?.working();
      if (ctx.isStopping()) continue;
      // A renew hanging on a dead connection holds the job's lane: the half-lease stop does not wait for it.
      void stopIfLapsing(ctx, held, held.failing).catch((error: unknown) =>
        ctx.log("claim lease failed", held.jobId, errorMessage(error)),
      );
      const due = held.failing !== undefined || nowMs - held.lastTryMs >= renewEveryMs;
      const download = held.needsLocal === true && nowMs >= (held.nextDownloadMs ?? 0);
      // One round per claim at a time: rounds stuck on a dead connection must not pile up in its lane.
      if (busy.has(held) || !(due || held.committed || download)) continue;
      busy.add(held);
      void ctx.serial
        .run(held.jobId, async () => {
          if (held.committed) return finishCommitted(ctx, held);
          if (due) await renewOne(ctx, held);
          if (download && held.needsLocal && ctx.book.get(held.jobId) === held) await retryLocal(ctx, held);
        })
        .catch((error: unknown) => ctx.log("claim lease failed", held.jobId, errorMessage(error)))
        .finally(() => busy.delete(held));
    }
  };
  const timer = setInterval(tick, tickMs);
  return { stop: () => clearInterval(timer) };
}

/**
 * Puts a held job into the local outbox; a job whose submission is gone ends as cancelled. A failed
 * download is tried again later, each wait twice the last; one refused for its content that many
 * times ends the job as failed (the runner refuses it, and its record is committed as any end is).
 */
export async function retryLocal(ctx: BridgeContext, held: HeldClaim): Promise<void> {
  try {
    const outcome = await materialize(ctx, held.jobId);
    held.needsLocal = false;
    if (outcome === "gone") {
      ctx.log(
        "submission gone",
        held.jobId,
        "its job.<id>.sub was deleted before it ran here: closed as cancelled",
      );
      await commitDone(ctx, held, "cancelled");
    }
  } catch (error) {
    const failures = (held.downloadFailures ?? 0) + 1;
    held.downloadFailures = failures;
    // The connection or the disk may come back; a refusal of the content repeats itself.
    if (isProtocolError(error)) held.badDownloads = (held.badDownloads ?? 0) + 1;
    const bad = held.badDownloads ?? 0;
    if (bad >= ctx.nats.downloadTries && (await failUndownloadable(ctx, held.jobId, bad, error))) {
      held.needsLocal = false;
      return;
    }
    const waitMs = Math.min(ctx.nats.downloadRetryS * 1000 * 2 ** (failures - 1), 10 * 60 * 1000);
    held.nextDownloadMs = ctx.now().getTime() + waitMs;
    ctx.log(
      "download failed",
      held.jobId,
      `${errorMessage(error)}; tried again in ${Math.round(waitMs / 1000)} s`,
    );
    held.needsLocal = true;
  }
}
