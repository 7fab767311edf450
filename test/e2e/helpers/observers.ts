// What the end-to-end tests look at on disk: test observers, not product code.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { isConflictCopy } from "../../../protocol/index.ts";

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Polls a file-system condition (a test observer, not product code) until true or the deadline. */
export async function until(
  what: string,
  condition: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function findConflictCopies(dir: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  for (const entry of entries) if (isConflictCopy(entry.name)) found.push(join(entry.parentPath, entry.name));
  return found;
}
