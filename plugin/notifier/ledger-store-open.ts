import { lstat, rename } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { errnoCode } from "../../protocol/index.ts";
import { LEDGER_DB_FILE, LedgerStore, SCHEMA, STORE_VERSION } from "./ledger-store.ts";
import type { Ledger, LedgerEntry } from "./notifier-ledger.ts";

export type OpenedStore =
  | { kind: "opened"; store: LedgerStore; fresh: boolean }
  /** Unreadable: moved aside (kept for a person to read); a new store was made in its place. */
  | { kind: "corrupt"; store: LedgerStore; reason: string; movedTo: string };

type OnBadRow = (id: string, reason: string) => void;

function openAt(path: string, now: Date, onBadRow: OnBadRow): { store: LedgerStore; fresh: boolean } {
  const db = new DatabaseSync(path, { timeout: 5_000 });
  try {
    // FULL: a commit survives a power cut too; the ledger is written a few times per finished job.
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
    const existed = db.prepare("SELECT name FROM sqlite_master WHERE name = 'meta'").get() !== undefined;
    db.exec(SCHEMA);
    const store = new LedgerStore(path, db, onBadRow);
    const version = store.meta("version");
    if (existed && version !== STORE_VERSION)
      throw new Error(`store version ${version ?? "(none)"}, expected ${STORE_VERSION}`);
    if (!existed) {
      store.write({
        entries: new Map(),
        live: new Map(),
        meta: new Map([
          ["version", STORE_VERSION],
          ["created_at", now.toISOString()],
        ]),
      });
    }
    return { store, fresh: !existed };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Why the file at `path` is not a store to open, or undefined when it is (or is absent). */
async function notAFile(path: string): Promise<string | undefined> {
  try {
    const stat = await lstat(path);
    return stat.isFile() ? undefined : "it is not a regular file (a link?)";
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Opens `<dir>/ledger.sqlite`, making it when absent. One that cannot be read (not a database, of
 * another version, a link) is renamed aside with its WAL, never overwritten, and a new one made.
 */
export async function openLedgerStore(dir: string, now: Date, onBadRow: OnBadRow): Promise<OpenedStore> {
  const path = join(dir, LEDGER_DB_FILE);
  let reason = await notAFile(path);
  if (!reason) {
    try {
      return { kind: "opened", ...openAt(path, now, onBadRow) };
    } catch (error) {
      reason = (error as Error).message;
    }
  }
  const movedTo = `${path}.corrupt-${now.getTime()}`;
  await rename(path, movedTo);
  for (const suffix of ["-wal", "-shm"]) {
    await rename(`${path}${suffix}`, `${movedTo}${suffix}`).catch((error: unknown) => {
      if (errnoCode(error) !== "ENOENT") throw error;
    });
  }
  return { kind: "corrupt", store: openAt(path, now, onBadRow).store, reason, movedTo };
}

/** The whole ledger as one object, read-only: for tests and for a person looking (`jq`-like). */
export function readLedgerStore(dir: string): Ledger {
  const path = join(dir, LEDGER_DB_FILE);
  const db = new DatabaseSync(path, { readOnly: true, timeout: 5_000 });
  try {
    const store = new LedgerStore(path, db, (id, reason) => {
      throw new Error(`ledger row ${id} is unreadable: ${reason}`);
    });
    const jobs: Record<string, LedgerEntry> = {};
    for (const entry of store.all()) jobs[entry.job_id] = entry;
    return { version: 1, created_at: store.meta("created_at") ?? "", jobs };
  } finally {
    db.close();
  }
}
