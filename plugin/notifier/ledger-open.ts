import { rename } from "node:fs/promises";
import { join } from "node:path";
import { LedgerBook } from "./ledger-book.ts";
import type { LedgerStore } from "./ledger-store.ts";
import { FIRST_SCAN_KEY, LEDGER_DB_FILE } from "./ledger-store.ts";
import { openLedgerStore } from "./ledger-store-open.ts";
import type { Log } from "./notifier-context.ts";
import { LEDGER_FILE, loadLedger } from "./notifier-ledger.ts";

export interface OpenedLedger {
  book: LedgerBook;
  /** Closed by the engine once the book is closed and its last commit has ended. */
  store: LedgerStore;
}

const LOST_LEDGER =
  "a new one started: jobs already fetched or archived are not announced again, others may be";

/**
 * Opens the ledger of an activation (the lock held): `<dir>/ledger.sqlite`, made when absent. A
 * ledger.json of an earlier version is imported once (entries the store lacks) and then renamed
 * aside, never deleted; its first scan counts as done. An unreadable store or ledger.json is kept
 * aside and a new ledger started, as the log says. No ledger at all makes this a first start.
 */
export async function openLedger(dir: string, now: Date, log: Log): Promise<OpenedLedger> {
  const badRows = new Set<string>();
  const onBadRow = (id: string, reason: string) => {
    if (badRows.has(id)) return;
    badRows.add(id);
    log(
      "error",
      `${id}: its ledger row is unreadable (${reason}); the job is left alone (no message, no hand-off). To have it recorded afresh, delete the row: DELETE FROM entries WHERE job_id = '${id}' in ${join(dir, LEDGER_DB_FILE)}`,
    );
  };
  const opened = await openLedgerStore(dir, now, onBadRow);
  const { store } = opened;
  if (opened.kind === "corrupt") {
    log(
      "error",
      `the ledger was unreadable (${opened.reason}); it was kept as ${opened.movedTo} and ${LOST_LEDGER}`,
    );
  }
  try {
    await importLedgerJson(dir, store, now, log);
  } catch (error) {
    store.close();
    throw error;
  }
  return { book: new LedgerBook(store), store };
}

async function importLedgerJson(dir: string, store: LedgerStore, now: Date, log: Log): Promise<void> {
  const loaded = await loadLedger(dir, now);
  if (loaded.kind === "absent") return;
  if (loaded.kind === "corrupt") {
    log(
      "error",
      `the ledger ${LEDGER_FILE} was unreadable (${loaded.reason}); it was kept as ${loaded.movedTo} and not imported${store.meta(FIRST_SCAN_KEY) ? "" : `: ${LOST_LEDGER}`}`,
    );
    return;
  }
  const entries = Object.values(loaded.ledger.jobs);
  const added = store.importMissing(entries);
  // The old ledger existed, so its first scan had sorted history from new work.
  store.write({ entries: new Map(), live: new Map(), meta: new Map([[FIRST_SCAN_KEY, "yes"]]) });
  const aside = join(dir, `${LEDGER_FILE}.imported-${now.getTime()}`);
  await rename(join(dir, LEDGER_FILE), aside);
  log(
    "info",
    `imported ${added} of ${entries.length} entries from ${LEDGER_FILE} into ${store.path}; the old file was kept as ${aside}`,
  );
}
