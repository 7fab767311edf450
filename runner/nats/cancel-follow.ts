import { readdir } from "node:fs/promises";
import type { KvWatchEntry } from "@nats-io/kv";
import { errnoCode, isJobId } from "../../protocol/index.ts";
import {
  CarriedFileSchema,
  ClaimRecordSchema,
  jobKey,
  parseJobKey,
  SubmissionRecordSchema,
} from "../../protocol/nats-layout.ts";
import { decodeRecord, readRecord } from "../../protocol/nats-records.ts";
import { errorMessage } from "../log.ts";
import type { BridgeContext } from "./bridge-context.ts";
import { claimHere, knownLocally } from "./dispatch.ts";
import { labelMismatch } from "./dispatch-rules.ts";
import type { KvFollow } from "./kv-follow.ts";
import { followKv } from "./kv-follow.ts";
import { removeLocalSubmission, writeLocalCancel } from "./local-outbox.ts";
import { adoptOrphan } from "./resume.ts";

// What submitters change in KV after a job was handed out: a cancel request (carried to the local
// outbox/.cancel/ of the host holding the claim) and the archive (the `.sub` key deleted: the local
// outbox entry goes, and the runner's cleanup removes the job's inbox folder as it does today).

/** A cancel request in KV, for a job this host holds or that nobody has taken yet. */
export async function considerCancel(ctx: BridgeContext, jobId: string, text: string): Promise<void> {
  if (ctx.book.has(jobId)) {
    await writeLocalCancel(ctx, jobId, text);
    return;
  }
  const claim = await readRecord(ctx.q.kv, jobKey(jobId, "claim"), ClaimRecordSchema);
  // This host's claim, not held (its answer was lost): taken up, which copies the request too.
  if (claim?.value.state === "claimed" && claim.value.host === ctx.host && !ctx.isStopping()) {
    await adoptOrphan(ctx, jobId, claim.value, claim.revision);
    return;
  }
  if (claim?.value.state !== "queued" || ctx.isStopping() || (await knownLocally(ctx, jobId))) return;
  const sub = await readRecord(ctx.q.kv, jobKey(jobId, "sub"), SubmissionRecordSchema);
  if (!sub) return;
  // Taken even without a free slot: the runner closes it as cancelled before it starts. A runner that
  // honours only signed requests may still run it (the request may not count), so then the job must
  // be one it may run: its labels, and its licences taken.
  if (ctx.signedOnly && labelMismatch(sub.value.labels, ctx.nats.labels)) return;
  const taken = await claimHere(ctx, jobId, sub.value, { licences: ctx.signedOnly });
  if (taken === "taken") ctx.log("claimed to cancel", jobId, "a cancel request came while it was queued");
}

/** Removes the local outbox entries whose submission is gone from KV (archived while this runner was away). */
export async function sweepArchived(ctx: BridgeContext): Promise<void> {
  let names: string[];
  try {
    names = await readdir(ctx.paths.queue.outbox);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return;
    throw error;
  }
  for (const name of names.filter(isJobId)) {
    await ctx.serial.run(name, async () => {
      const entry = await ctx.q.kv.get(jobKey(name, "sub"));
      if (entry === null || entry.operation !== "PUT") await archived(ctx, name);
    });
  }
}

async function archived(ctx: BridgeContext, jobId: string): Promise<void> {
  if (await removeLocalSubmission(ctx, jobId))
    ctx.log("archived", jobId, "its submission left NATS: the local outbox entry is removed");
}

export interface SubmitterFollow {
  stop(): void;
}

/** Follows `job.*.cancel` (every request there, then each new one) and deletions of `job.*.sub`. */
export function followSubmitters(ctx: BridgeContext): SubmitterFollow & { ready: Promise<void> } {
  const lane = (jobId: string, what: string, task: () => Promise<void>) =>
    void ctx.serial
      .run(jobId, task)
      .catch((error: unknown) => ctx.log(`${what} failed`, jobId, errorMessage(error)));
  const onCancel = (entry: KvWatchEntry) => {
    const parsed = parseJobKey(entry.key);
    if (!parsed || entry.operation !== "PUT") return;
    lane(parsed.jobId, "cancel", async () => {
      const record = decodeRecord(entry.key, entry.value, CarriedFileSchema);
      await considerCancel(ctx, parsed.jobId, record.text);
    });
  };
  const onSub = (entry: KvWatchEntry) => {
    const parsed = parseJobKey(entry.key);
    if (!parsed || entry.operation === "PUT") return;
    lane(parsed.jobId, "archive", () => archived(ctx, parsed.jobId));
  };
  const follows: KvFollow[] = [
    followKv(ctx, "cancel requests", { key: "job.*.cancel" }, onCancel),
    followKv(
      ctx,
      "archived submissions",
      { key: "job.*.sub", include: "updates" },
      onSub,
      () =>
        void sweepArchived(ctx).catch((error: unknown) =>
          ctx.log("archive sweep failed", undefined, errorMessage(error)),
        ),
    ),
  ];
  return {
    ready: Promise.all(follows.map((f) => f.ready)).then(() => undefined),
    stop: () => {
      for (const follow of follows) follow.stop();
    },
  };
}
