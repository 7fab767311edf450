import { readdir } from "node:fs/promises";
import { errnoCode } from "../protocol/index.ts";
import { cleanupFinished } from "./cleanup.ts";
import type { RunnerContext } from "./context.ts";
import { considerCancel, considerEntry } from "./outbox-events.ts";

async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw error;
  }
}

type Guard = (ctx: RunnerContext, what: string, jobId?: string) => (error: unknown) => void;

/**
 * The safety net behind the watches: one look at every outbox entry the ledger does not know, every
 * cancel request, and the cleanup of finished jobs. Each job is looked at in its own serial lane.
 */
export async function rescanQueue(ctx: RunnerContext, guard: Guard): Promise<void> {
  const { paths, config } = ctx;
  const names = await listNames(paths.queue.outbox);
  // Ids the ledger knows need no intake (a reappearing folder is noted from its watch event), so a
  // rescan of a 10,000-job queue costs one readdir, not an lstat per finished job.
  await Promise.all(
    names
      .filter((name) => ctx.ledger.get(name) === undefined)
      .map((name) => ctx.serial.run(name, () => considerEntry(ctx, name)).catch(guard(ctx, "intake", name))),
  );
  const cancels = (await listNames(paths.queue.cancelDir))
    .filter((n) => n.endsWith(".json"))
    .map((n) => n.slice(0, -5));
  await Promise.all(
    cancels.map((id) => ctx.serial.run(id, () => considerCancel(ctx, id)).catch(guard(ctx, "cancel", id))),
  );
  await cleanupFinished({
    paths,
    ledger: ctx.ledger,
    config,
    goneSince: ctx.goneSince,
    outboxNames: new Set(names),
    nowMs: () => ctx.now().getTime(),
    log: ctx.log,
    forget: ctx.inbox.forget,
  }).catch(guard(ctx, "cleanup"));
}
