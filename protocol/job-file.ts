import { join } from "node:path";
import { readJsonFile, writeJsonAtomic } from "./atomic-fs.ts";
import { ProtocolError } from "./errors.ts";
import type { Job } from "./job-schema.ts";
import { describeZodError, JobSchema } from "./job-schema.ts";
import { JOB_FILE } from "./queue-layout.ts";

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

/** Reads `<jobDir>/job.json`. ENOENT passes through as an fs error; bad JSON or fields are ProtocolErrors. */
export async function readJob(jobDir: string): Promise<Job> {
  const path = join(jobDir, JOB_FILE);
  return parseJob(await readJsonFile(path), path);
}

/** Writes `<jobDir>/job.json` atomically, after checking it is still a valid job. */
export async function writeJob(jobDir: string, job: Job): Promise<void> {
  const path = join(jobDir, JOB_FILE);
  await writeJsonAtomic(path, parseJob(job, path));
}
