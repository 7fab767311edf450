import type { JobCatalog } from "../../submitter/catalog/job-catalog.ts";
import { openCatalog } from "../../submitter/catalog/open-catalog.ts";
import { LedgerBook } from "./ledger-book.ts";
import type { NotifierContext } from "./notifier-context.ts";
import { emptyLedger, loadLedger } from "./notifier-ledger.ts";
import type { LockInfo, NotifierLock } from "./notifier-lock.ts";

export type Activation =
  /** `storage`: the disk catalog, listing the folders themselves for the safety-net rescan. */
  | { kind: "active"; book: LedgerBook; catalog: JobCatalog; storage: JobCatalog }
  | { kind: "passive"; holder: LockInfo };

/** What a passive engine says once: who acts instead. */
export function passiveMessage(holder: LockInfo, queueDir: string): string {
  return `another notifier (pid ${holder.pid} on ${holder.hostname}, since ${holder.started_at}) acts for ${queueDir}; this one stays passive and takes over if that one stops. Set notifier.enabled: false on all gateways but one for a tidy setup.`;
}

/**
 * Takes the queue's notifier lock and, once held, loads the ledger (a corrupt one is kept aside and a
 * new one started; no ledger at all makes this a first start) and opens the queue's watched job
 * catalog (its own: the gateway runs apart from the MCP server), saying in the log what it found.
 */
export async function activate(ctx: NotifierContext, lock: NotifierLock, dir: string): Promise<Activation> {
  const { log, clock, options } = ctx;
  const attempt = await lock.acquire();
  if (!attempt.acquired) return { kind: "passive", holder: attempt.holder };
  if (attempt.tookOver) log("warn", `took over the notifier lock from ${attempt.tookOver}`);
  const loaded = await loadLedger(dir, new Date(clock.now()));
  if (loaded.kind === "corrupt") {
    log(
      "error",
      `the ledger was unreadable (${loaded.reason}); it was kept as ${loaded.movedTo} and a new one started: jobs already fetched or archived are not announced again, others may be`,
    );
  }
  const ledger = loaded.kind === "found" ? loaded.ledger : emptyLedger(new Date(clock.now()));
  const catalog = await openCatalog({ kind: "watched", queueRoot: options.queueDir });
  const storage = await openCatalog({ kind: "disk", queueRoot: options.queueDir });
  log(
    "info",
    `acting for ${options.queueDir}: hand-offs go to agent "${options.agentId}" (session ${options.sessionKey}); ${Object.keys(options.channels).length} channel mappings`,
  );
  return { kind: "active", book: new LedgerBook(dir, ledger, loaded.kind !== "found"), catalog, storage };
}
