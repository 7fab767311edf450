import type { JobCatalog } from "../../submitter/catalog/job-catalog.ts";
import { openCatalog } from "../../submitter/catalog/open-catalog.ts";
import type { LedgerBook } from "./ledger-book.ts";
import { openLedger } from "./ledger-open.ts";
import type { LedgerStore } from "./ledger-store.ts";
import type { NotifierContext } from "./notifier-context.ts";
import type { LockInfo, NotifierLock } from "./notifier-lock.ts";

export type Activation =
  /** `store`: the ledger's database, closed by the engine after the book. */
  | { kind: "active"; book: LedgerBook; store: LedgerStore; catalog: JobCatalog }
  | { kind: "passive"; holder: LockInfo };

/** What a passive engine says once: who acts instead. */
export function passiveMessage(holder: LockInfo, queueDir: string): string {
  return `another notifier (pid ${holder.pid} on ${holder.hostname}, since ${holder.started_at}) acts for ${queueDir}; this one stays passive and takes over if that one stops. Set notifier.enabled: false on all gateways but one for a tidy setup.`;
}

/**
 * Takes the queue's notifier lock and, once held, opens the ledger (ledger-open.ts: an old
 * ledger.json imported, a corrupt ledger kept aside and a new one started, no ledger at all a first
 * start) and the queue's watched job catalog (its own: the gateway runs apart from the MCP server),
 * saying in the log what it found.
 */
export async function activate(ctx: NotifierContext, lock: NotifierLock, dir: string): Promise<Activation> {
  const { log, clock, options } = ctx;
  const attempt = await lock.acquire();
  if (!attempt.acquired) return { kind: "passive", holder: attempt.holder };
  if (attempt.tookOver) log("warn", `took over the notifier lock from ${attempt.tookOver}`);
  const { book, store } = await openLedger(dir, new Date(clock.now()), log);
  let catalog: JobCatalog;
  try {
    catalog = await openCatalog({
      kind: "watched",
      queueRoot: options.queueDir,
      log: (line) => log("info", line),
    });
  } catch (error) {
    store.close();
    throw error;
  }
  log(
    "info",
    `acting for ${options.queueDir}: hand-offs go to agent "${options.agentId}" (session ${options.sessionKey}); ${Object.keys(options.channels).length} channel mappings`,
  );
  return { kind: "active", book, store, catalog };
}
