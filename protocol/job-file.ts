import { lstat } from "node:fs/promises";
import { join } from "node:path";
import { readRegularFileBytes, writeFileAtomic } from "./atomic-fs.ts";
import { parseJsonBytes } from "./bounded-json.ts";
import { ProtocolError } from "./errors.ts";
import type { Job } from "./job-schema.ts";
import { describeZodError, JobSchema } from "./job-schema.ts";
import { MAX_JOB_FILE_BYTES } from "./limits.ts";
import { JOB_FILE } from "./queue-layout.ts";
import { describeFileKind } from "./safe-open.ts";

/** Validates parsed JSON as a job; the error names every bad field. */
export function parseJob(value: unknown, source = JOB_FILE): Job {
  const parsed = JobSchema.safeParse(value);
  if (!parsed.success) {
    throw new ProtocolError(
      "invalid_job",
      `${source} is not a valid job: ${describeZodError(parsed.error)}`,
      {
        source,
      },
    );
  }
  return parsed.data;
}

/**
 * A job from the raw bytes of a job.json: at most MAX_JOB_FILE_BYTES, strict UTF-8 (invalid bytes are
 * refused, never replaced with U+FFFD), nested at most MAX_JSON_DEPTH deep, valid JSON, valid fields.
 * The one parser both sides use, so the runner's intake refuses exactly what the submitter would.
 */
export function parseJobBytes(bytes: Uint8Array, source = JOB_FILE): Job {
  return parseJob(parseJsonBytes(bytes, source), source);
}

/**
 * Reads `<jobDir>/job.json`. ENOENT passes through as an fs error; a linked job folder, a job.json
 * that is a link, FIFO or folder, and bad bytes, JSON or fields are ProtocolErrors.
 */
export async function readJob(jobDir: string): Promise<Job> {
  const path = join(jobDir, JOB_FILE);
  // Job folders are made by rename or by Syncthing, never as links: one would lead the read elsewhere.
  const folder = await lstat(jobDir);
  if (!folder.isDirectory()) {
    throw new ProtocolError(
      "unsafe_file",
      `job folder ${jobDir} is ${describeFileKind(folder)}, not a folder; job folders are never followed through links: remove it`,
      { path: jobDir },
    );
  }
  return parseJobBytes(await readRegularFileBytes(path, MAX_JOB_FILE_BYTES), path);
}

/**
 * Writes `<jobDir>/job.json` atomically, after checking it is still a valid job that every reader will
 * accept: a job.json over MAX_JOB_FILE_BYTES is refused here, not by the other side later.
 */
export async function writeJob(jobDir: string, job: Job): Promise<void> {
  const path = join(jobDir, JOB_FILE);
  const bytes = Buffer.from(`${JSON.stringify(parseJob(job, path), null, 2)}\n`, "utf8");
  // Parsing it back applies the same size and depth limits readers apply.
  parseJobBytes(bytes, path);
  await writeFileAtomic(path, bytes);
}
