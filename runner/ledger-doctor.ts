import { stat } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, pathExists } from "../protocol/index.ts";
import type { DoctorCheck } from "./doctor-check.ts";
import { LEDGER_FILE, LEGACY_LEDGER_FILE } from "./ledger.ts";
import { openLedgerStore } from "./ledger-store.ts";
import { errorMessage } from "./log.ts";

async function legacyNote(stateDir: string): Promise<string> {
  try {
    const { size } = await stat(join(stateDir, LEGACY_LEDGER_FILE));
    return `; ${LEGACY_LEDGER_FILE} of an earlier runner (${(size / 1024 ** 2).toFixed(1)} MB) is taken in at the next start, then kept as ${LEGACY_LEDGER_FILE}.imported`;
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return "";
    throw error;
  }
}

/**
 * The runner's ledger in the state folder: readable and consistent (SQLite's page check), with what it
 * holds. One that cannot be read fails: the runner refuses to start on it rather than forget jobs.
 */
export async function ledgerCheck(stateDir: string): Promise<DoctorCheck> {
  const file = join(stateDir, LEDGER_FILE);
  try {
    const legacy = await legacyNote(stateDir);
    if (!(await pathExists(file)))
      return {
        name: "ledger",
        level: "ok",
        message: `no ${LEDGER_FILE} in ${stateDir} yet${legacy || ": the first start makes one and enters every job inbox/ knows, so none runs again"}`,
      };
    const store = openLedgerStore(file, { readOnly: true });
    try {
      const problems = store.check().filter((line) => line !== "ok");
      if (problems.length > 0)
        return {
          name: "ledger",
          level: "fail",
          message: `${file} is damaged (${problems.slice(0, 3).join("; ")}): the runner will not start on it; restore it from a backup, or move the ledger.db* files aside to rebuild it from inbox/`,
        };
      const n = store.counts();
      return {
        name: "ledger",
        level: "ok",
        message: `${file}: ${n.live} live, ${n.finished} finished, ${n.cleaned} cleaned, ${n.foreign} foreign jobs; ${n.records} records${legacy}`,
      };
    } finally {
      store.close();
    }
  } catch (error) {
    return {
      name: "ledger",
      level: "fail",
      message: `${file} cannot be read (${errorMessage(error)}): the runner will not start on it`,
    };
  }
}
