import { join } from "node:path";
import { z } from "zod";
import { LOG_FILE, MAX_JOB_ID_LENGTH } from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import { readLogRange } from "../jobs/log-file.ts";
import { knownJob } from "./job-lookup.ts";

export const MAX_LOG_BYTES = 64 * 1024;
const DEFAULT_LOG_BYTES = 16 * 1024;

export const TailLogInput = {
  job_id: z.string().max(MAX_JOB_ID_LENGTH),
  offset: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("next_offset of the previous call")
    .meta({ default: 0 }),
  max_bytes: z.number().int().min(1).max(MAX_LOG_BYTES).optional().meta({ default: DEFAULT_LOG_BYTES }),
};
const TailLogInputSchema = z.object(TailLogInput);
export type TailLogArgs = z.infer<typeof TailLogInputSchema>;

export const TailLogOutput = {
  job_id: z.string(),
  state: z.string(),
  exists: z.boolean(),
  text: z.string(),
  offset: z.number().int(),
  next_offset: z.number().int(),
  size: z.number().int(),
  eof: z.boolean(),
  restarted: z.boolean(),
  source: z.string().optional(),
};
const TailLogOutputSchema = z.object(TailLogOutput);
export type TailLogResult = z.infer<typeof TailLogOutputSchema>;

/** stdout.log from a byte offset, bounded; reads the runner's copy while the job runs, else the archive. */
export async function tailLog(ctx: ServerContext, args: TailLogArgs): Promise<TailLogResult> {
  const job = await knownJob(ctx, args.job_id);
  // The synced folder, not the job folder, bounds the read: a linked inbox/<id>/ must not lead it out either.
  const folder = job.state === "archived" && job.folders.archive ? job.folders.archive : job.folders.runner;
  const offset = args.offset ?? 0;
  const source = join(folder.dir, LOG_FILE);
  const range = await readLogRange(
    source,
    offset,
    Math.min(args.max_bytes ?? DEFAULT_LOG_BYTES, MAX_LOG_BYTES),
    {
      within: folder.within,
    },
  );
  if (!range) {
    return {
      job_id: job.job_id,
      state: job.state,
      exists: false,
      text: "",
      offset,
      next_offset: offset,
      size: 0,
      eof: true,
      restarted: false,
    };
  }
  return { job_id: job.job_id, state: job.state, exists: true, ...range, source };
}
