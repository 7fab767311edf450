// Every test process and every child it spawns keeps its job index in one temporary state folder,
// never in the user's own (~/.local/state/atomizer-jobs): set before the workers start.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "atomizer-test-state-"));
  process.env.ATOMIZER_STATE_DIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
