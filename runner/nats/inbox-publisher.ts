import path from "node:path";
import type { DirWatch } from "../../protocol/index.ts";
import {
  errnoCode,
  isJobId,
  isTerminal,
  JOB_FILE,
  MAX_JOB_FILE_BYTES,
  parseJobBytes,
  pathExists,
  readRegularFileBytes,
  watchDir,
  withFsRetry,
} from "../../protocol/index.ts";
import type { FileIndex, RunRecord } from "../../protocol/nats-layout.ts";
import { jobKey, RunRecordSchema } from "../../protocol/nats-layout.ts";
import { deleteObjects, uploadTree } from "../../protocol/nats-objects.ts";
import { encodeRecord, readRecord } from "../../protocol/nats-records.ts";
import { errorMessage } from "../log.ts";
import type { BridgeContext } from "./bridge-context.ts";
import { commitDone } from "./claim-lease.ts";
import { missingResults } from "./dispatch-rules.ts";

// Carries the runner's local inbox/<id>/ to NATS: the files first (uploadTree sends only what
// changed), the job.json text last in `job.<id>.run`, and on its final record the done commit. The
// inbox/ folder is watched for job folders appearing and going; each held job's folder is watched
// while the claim is held (its job.json is renamed in last, which is what a watch sees).

/** Quiet time before a changed job folder is published: a heartbeat rewrites job.json and stdout.log together. */
const DEBOUNCE_MS = 150;
const RETRY_MS = 1000;

function sameIndex(a: FileIndex | undefined, b: FileIndex): boolean {
  if (!a || a.length !== b.length) return false;
  return a.every(
    (file, i) => file.path === b[i]?.path && file.sha256 === b[i]?.sha256 && file.size === b[i]?.size,
  );
}

export interface InboxPublisher {
  follow(jobId: string): void;
  /** Publishes a job's inbox folder soon (debounced). */
  schedule(jobId: string): void;
  /** Publishes every held job's folder now (at stop: an end the runner published meanwhile is carried). */
  flush(): Promise<void>;
  close(): void;
}

export function createInboxPublisher(ctx: BridgeContext): InboxPublisher {
  const watches = new Map<string, DirWatch>();
  /** Jobs whose wait for results was logged: the retries are not. */
  const waitingNoted = new Set<string>();
  const timers = new Map<string, NodeJS.Timeout>();
  let closed = false;

  const unfollow = (jobId: string) => {
    watches.get(jobId)?.close();
    watches.delete(jobId);
  };

  const schedule = (jobId: string, delayMs = DEBOUNCE_MS) => {
    if (closed) return;
    clearTimeout(timers.get(jobId));
    timers.set(
      jobId,
      setTimeout(() => {
        timers.delete(jobId);
        void ctx.serial
          .run(jobId, () => publish(jobId))
          .catch((error: unknown) => {
            ctx.log("publish failed", jobId, `${errorMessage(error)}; tried again`);
            schedule(jobId, RETRY_MS);
          });
      }, delayMs),
    );
  };

  const follow = (jobId: string) => {
    if (closed || watches.has(jobId)) return;
    // A folder not there yet is watched once it appears (watchDir arms again and resets).
    watches.set(
      jobId,
      watchDir(ctx.paths.inboxJob(jobId), { onName: () => schedule(jobId), onReset: () => schedule(jobId) }),
    );
    schedule(jobId);
  };

  const publish = async (jobId: string): Promise<void> => {
    const held = ctx.book.get(jobId);
    if (!held || held.committed) {
      unfollow(jobId);
      return;
    }
    const dir = ctx.paths.inboxJob(jobId);
    let bytes: Buffer;
    try {
      bytes = await withFsRetry(() => readRegularFileBytes(path.join(dir, JOB_FILE), MAX_JOB_FILE_BYTES));
    } catch (error) {
      // Not accepted yet (or a rename in flight): the watch brings the next look.
      if (errnoCode(error) === "ENOENT") return;
      throw error;
    }
    const job = parseJobBytes(bytes, `inbox/${jobId}/${JOB_FILE}`);
    const text = bytes.toString("utf8");
    held.uploadStats ??= new Map();
    const index = await uploadTree(ctx.q, dir, jobId, "run", held.sentIndex ?? held.runIndex, {
      stats: held.uploadStats,
    });
    held.sentIndex = index;
    const status = job.status;
    const terminal = isTerminal(status);
    // A final record is put only with every result it lists in the Object Store, as that record
    // describes it: a reader of a terminal record can always fetch what it names.
    const missing = terminal ? missingResults(job, index) : [];
    if (missing.length > 0) {
      // Results are renamed in before the final job.json; one missing is still on its way or was replaced.
      if (!waitingNoted.has(jobId))
        ctx.log("waiting", jobId, `results not uploaded yet: ${missing.join(", ")}`);
      waitingNoted.add(jobId);
      schedule(jobId, RETRY_MS);
      return;
    }
    if (text !== held.runText || !sameIndex(held.runIndex, index)) {
      const record: RunRecord = {
        host: ctx.host,
        attempt: held.attempt,
        job: text,
        files: index,
        updated_at: ctx.now().toISOString(),
      };
      await ctx.q.kv.put(jobKey(jobId, "run"), encodeRecord(record));
      held.runText = text;
      held.runIndex = index;
    }
    if (!terminal) return;
    await commitDone(ctx, held, status);
    waitingNoted.delete(jobId);
    unfollow(jobId);
  };

  /** inbox/<id>/ is gone (cleaned up after the archive): the run record and its objects go too. */
  const dropRun = async (jobId: string): Promise<void> => {
    if (ctx.book.has(jobId) || (await pathExists(ctx.paths.inboxJob(jobId)))) return;
    await dropRunRecord(ctx, jobId);
  };

  const inbox = watchDir(ctx.paths.queue.inbox, {
    onName: (name) => {
      if (name.startsWith(".") || !isJobId(name)) return;
      if (ctx.book.has(name)) follow(name);
      else
        void ctx.serial
          .run(name, () => dropRun(name))
          .catch((error: unknown) => ctx.log("run record cleanup failed", name, errorMessage(error)));
    },
    // Events may have been missed: every held job is looked at again.
    onReset: () => {
      for (const held of ctx.book.all()) schedule(held.jobId);
    },
  });

  return {
    follow,
    schedule,
    async flush() {
      for (const held of ctx.book.all()) {
        clearTimeout(timers.get(held.jobId));
        timers.delete(held.jobId);
        await ctx.serial
          .run(held.jobId, () => publish(held.jobId))
          .catch((error: unknown) => ctx.log("publish failed", held.jobId, errorMessage(error)));
      }
    },
    close() {
      closed = true;
      inbox.close();
      for (const jobId of [...watches.keys()]) unfollow(jobId);
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}

/** Deletes `job.<id>.run` and the run objects when this host wrote them; true when it did. */
export async function dropRunRecord(ctx: BridgeContext, jobId: string): Promise<boolean> {
  const run = await readRecord(ctx.q.kv, jobKey(jobId, "run"), RunRecordSchema);
  if (!run || run.value.host !== ctx.host) return false;
  await deleteObjects(ctx.q, jobId, "run");
  await ctx.q.kv.delete(jobKey(jobId, "run"));
  ctx.log("run record removed", jobId, "its inbox folder was cleaned up");
  return true;
}
