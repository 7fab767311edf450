import type { JobCatalog } from "../../submitter/catalog/job-catalog.ts";
import { displayNatsUrl } from "../../submitter/catalog/nats-mirror-location.ts";
import { openCatalog } from "../../submitter/catalog/open-catalog.ts";
import type { LedgerBook } from "./ledger-book.ts";
import { openLedger } from "./ledger-open.ts";
import type { LedgerStore } from "./ledger-store.ts";
import type { Log, NotifierContext } from "./notifier-context.ts";
import type { LockInfo, NotifierLock } from "./notifier-lock.ts";
import type { ResolvedNotifierOptions } from "./notifier-types.ts";

export type Activation =
  /** `store`: the ledger's database, closed by the engine after the book. */
  | { kind: "active"; book: LedgerBook; store: LedgerStore; catalog: JobCatalog }
  | { kind: "passive"; holder: LockInfo };

/** The queue as the log names it: the folder, or the NATS server and this host's mirror of it. */
export function queueName(options: ResolvedNotifierOptions): string {
  return options.nats
    ? `NATS ${displayNatsUrl(options.nats.settings.url)} (mirror ${options.queueDir})`
    : options.queueDir;
}

/** What an engine says when it cannot open its queue (a NATS server down); the lock timer retries. */
export function cannotFollow(options: ResolvedNotifierOptions, message: string): string {
  return `cannot follow ${queueName(options)}: ${message}; trying again every ${Math.round(options.lockRefreshMs / 1000)} s`;
}

/** What a passive engine says once: who acts instead. */
export function passiveMessage(holder: LockInfo, queue: string): string {
  return `another notifier (pid ${holder.pid} on ${holder.hostname}, since ${holder.started_at}) acts for ${queue}; this one stays passive and takes over if that one stops. Set notifier.enabled: false on all gateways but one for a tidy setup.`;
}

/**
 * The queue's watched job catalog, its own (the gateway runs apart from the MCP servers). For NATS,
 * the catalog over the local mirror, kept current by whichever process of this user holds the
 * mirror's lock (the notifier or an MCP server); loaded only then, so a folder queue never loads NATS.
 */
async function openQueueCatalog(options: ResolvedNotifierOptions, log: Log): Promise<JobCatalog> {
  const info = (line: string) => log("info", line);
  if (!options.nats) return openCatalog({ kind: "watched", queueRoot: options.queueDir, log: info });
  const { openNatsCatalog } = await import("../../submitter/catalog/open-nats-catalog.ts");
  const { nats } = options;
  // Its stateDir gives the same mirror as options.queueDir (both natsMirrorFor): ledger beside jobs.
  const { catalog } = await openNatsCatalog({
    kind: "watched",
    nats: nats.settings,
    ...(nats.env ? { env: nats.env } : {}),
    ...(nats.stateDir !== undefined ? { stateDir: nats.stateDir } : {}),
    log: info,
  });
  return catalog;
}

/**
 * Takes the queue's notifier lock and, once held, opens the ledger (ledger-open.ts: an old
 * ledger.json imported, a corrupt ledger kept aside and a new one started, no ledger at all a first
 * start) and the queue's watched job catalog, saying in the log what it found.
 */
export async function activate(ctx: NotifierContext, lock: NotifierLock, dir: string): Promise<Activation> {
  const { log, clock, options } = ctx;
  const attempt = await lock.acquire();
  if (!attempt.acquired) return { kind: "passive", holder: attempt.holder };
  if (attempt.tookOver) log("warn", `took over the notifier lock from ${attempt.tookOver}`);
  const { book, store } = await openLedger(dir, new Date(clock.now()), log);
  let catalog: JobCatalog;
  try {
    catalog = await openQueueCatalog(options, log);
  } catch (error) {
    store.close();
    // Not acting, so not holding: another gateway's notifier may reach the queue meanwhile.
    await lock.release().catch(() => undefined);
    throw error;
  }
  log(
    "info",
    `acting for ${queueName(options)}: hand-offs go to agent "${options.agentId}" (session ${options.sessionKey}); ${Object.keys(options.channels).length} channel mappings`,
  );
  return { kind: "active", book, store, catalog };
}
