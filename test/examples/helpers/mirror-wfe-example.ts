// Where the mirror-wfe example study lives, its Optuna study name, and a file check its tests share.
import { stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const exampleDir = path.resolve(here, "../../../examples/mirror-wfe-study");
export const STUDY_NAME = "mirror_wfe_demo";

export async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
