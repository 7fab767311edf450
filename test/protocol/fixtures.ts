import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";

/**
 * The job.json example of the original SYS_19 protocol, copied verbatim (field order and values) from
 * the seed: protocol v1 must accept it unchanged.
 */
export const SEED_JOB_TEXT = `{
  "job_id": "job-20260210-143022-wfe",
  "created_at": "2026-02-10T14:30:22Z",
  "created_by": "study-builder",
  "project": "starspec-m1-wfe",
  "channel": "#starspec-m1-wfe",
  "type": "optimization",
  "script": "run_optimization.py",
  "args": ["--start"],
  "status": "submitted",
  "notify": {
    "on_complete": true,
    "on_fail": true
  }
}`;

/** A fresh parsed copy of the seed job, so no test can change another's. */
export function seedJob(): Record<string, unknown> {
  return JSON.parse(SEED_JOB_TEXT) as Record<string, unknown>;
}

/** Real temp folders under os.tmpdir(), removed after each test of the calling file. */
export function useTempDirs(prefix: string): () => Promise<string> {
  const created: string[] = [];
  afterEach(async () => {
    await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), `atomizer-${prefix}-`));
    created.push(dir);
    return dir;
  };
}
