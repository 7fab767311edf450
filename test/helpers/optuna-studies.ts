import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findOptunaPython } from "./python.ts";

const run = promisify(execFile);
const SCRIPT = new URL("./optuna_studies.py", import.meta.url).pathname;

/** The cases optuna_studies.py writes, one study.db each (file name = study name). */
export const STUDY_CASES = ["minimize", "maximize", "two", "three", "five", "empty", "running"] as const;
export type StudyCase = (typeof STUDY_CASES)[number];

/**
 * Real Optuna studies, made once per script version and shared by every test file that asks (real
 * runs take about 15 s): a folder named by the script's hash, published whole by a rename.
 */
export async function optunaStudies(): Promise<(name: StudyCase) => string> {
  const python = findOptunaPython();
  if (!python) throw new Error("python3 with optuna is needed");
  const hash = createHash("sha256").update(readFileSync(SCRIPT)).digest("hex").slice(0, 12);
  const dir = join(tmpdir(), `atomizer-optuna-studies-${hash}`);
  if (!existsSync(join(dir, "running.db"))) {
    const staging = await mkdtemp(join(tmpdir(), "atomizer-optuna-staging-"));
    await run(python, [SCRIPT, staging], { timeout: 180_000 });
    // Another test file may have published it meanwhile: theirs is as good as ours.
    await rename(staging, dir).catch(() => rm(staging, { recursive: true, force: true }));
  }
  return (name) => join(dir, `${name}.db`);
}
