import { rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, pathExists, withFsRetry } from "../protocol/index.ts";
import { DAMAGED_AT, damagedWarning, readLedgerFile } from "./ledger-lines.ts";
import { foreignEntry } from "./ledger-records.ts";
import type { LedgerStore } from "./ledger-store.ts";

/** The ledger of runner 0.1 and of every runner before the SQLite ledger: one JSON record per line. */
export const LEGACY_LEDGER_FILE = "ledger.jsonl";
/** What an imported ledger.jsonl is renamed to (kept, never deleted), with -2, -3 ... once taken. */
export const IMPORTED_SUFFIX = ".imported";

export interface LegacyImport {
  /** Records taken from the file into the ledger. */
  records: number;
  /** The file had lines that were not blank (readable or not): the ledger is not a new one. */
  hadContent: boolean;
  /** Where the file is now. */
  keptAs: string;
}

async function freeName(base: string): Promise<string> {
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    if (!(await pathExists(name))) return name;
  }
}

/**
 * Takes a ledger.jsonl in the state folder into the ledger database, once: streamed line by line with
 * the file's own rules (a torn last line dropped, damaged lines reported, a job named only by damaged
 * lines kept as foreign), all in one transaction, then the file is renamed aside. A file found beside
 * a database that already has records (an older runner ran on this state folder since) is applied
 * after them, as the log's continuation; a record that would reopen a finished job does not
 * (applyRecord). A crash after the commit and before the rename is recognised by the file's identity.
 */
export async function importLegacyLedger(
  store: LedgerStore,
  stateDir: string,
  warn: (message: string) => void,
): Promise<LegacyImport | undefined> {
  const file = join(stateDir, LEGACY_LEDGER_FILE);
  let identity: string;
  try {
    const stats = await stat(file, { bigint: true });
    identity = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}`;
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  }
  let records = 0;
  let hadContent = true;
  if (!store.imported(identity)) {
    const read = await store.transactionAsync(async () => {
      const lines = await readLedgerFile(file, (record) => store.apply([record]), warn);
      for (const [jobId, where] of lines.damaged) {
        if (store.get(jobId)) continue;
        warn(damagedWarning(jobId, where));
        store.putEntry(foreignEntry(jobId, DAMAGED_AT));
      }
      store.noteImport(identity, file, lines.records);
      return lines;
    });
    records = read.records;
    hadContent = read.contentLines > 0;
    store.checkpoint();
  }
  const keptAs = await freeName(`${file}${IMPORTED_SUFFIX}`);
  await withFsRetry(() => rename(file, keptAs));
  return { records, hadContent, keptAs };
}
