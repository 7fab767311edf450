import { z } from "zod";
import {
  JobSchema,
  MAX_AGENT_NAME_LENGTH,
  MAX_PROJECT_LENGTH,
  ProgressSchema,
} from "../../protocol/index.ts";
import type { CatalogRow } from "../catalog/job-catalog.ts";
import type { ServerContext } from "../context.ts";
import { JOB_STATES } from "../jobs/job-state.ts";
import { viewShape } from "../jobs/view-schema.ts";
import { OperationError } from "./operation-error.ts";

const DEFAULT_LIMIT = 20;
/** "c1.<instance hex>.<counter>" is far shorter; anything longer is not a cursor. */
const MAX_CURSOR_LENGTH = 100;

export const ListJobsInput = {
  status: z.array(z.enum(JOB_STATES)).max(JOB_STATES.length).optional().describe("only these states"),
  project: z.string().max(MAX_PROJECT_LENGTH).optional().describe("only this project"),
  created_by: z.string().max(MAX_AGENT_NAME_LENGTH).optional().describe("only this agent's jobs"),
  limit: z.number().int().min(1).max(200).optional().meta({ default: DEFAULT_LIMIT }),
  offset: z.number().int().min(0).optional().describe("next_offset of the previous page"),
  changed_since: z
    .string()
    .max(MAX_CURSOR_LENGTH)
    .optional()
    .describe("cursor of an earlier call: only jobs changed since"),
};
const ListJobsInputSchema = z.object(ListJobsInput);
export type ListJobsArgs = z.infer<typeof ListJobsInputSchema>;

/** A list row: fields of the job.json that speaks for the job and of its progress, with its state. */
export const JobRowSchema = z.object({
  ...viewShape(JobSchema.shape, ["job_id"]),
  state: z.enum(JOB_STATES),
  ...viewShape(JobSchema.partial().shape, ["project", "created_by", "created_at"]),
  /** The runner's job.json seq, 0 before it wrote one. */
  seq: z.number().int(),
  ...viewShape(ProgressSchema.shape, ["trials_complete", "trials_planned", "best_value"]),
  error_kind: z.string().optional(),
  ...viewShape(JobSchema.shape, ["finished_at"]),
  archived_at: z.string().optional(),
  problem: z.string().optional(),
});
export type JobRow = z.infer<typeof JobRowSchema>;

export const ListJobsOutput = {
  jobs: z.array(JobRowSchema),
  /** Rows matching the filters (before paging). */
  total: z.number().int(),
  next_offset: z.number().int().optional(),
  /** Pass as changed_since next time to see only what changed. */
  cursor: z.string(),
  /** Ids that disappeared since changed_since. */
  removed: z.array(z.string()),
  /** changed_since was not honoured (a cursor of another job index: rebuilt, or another queue): this is the full listing. */
  full_listing: z.boolean(),
  note: z.string().optional(),
};
const ListJobsOutputSchema = z.object(ListJobsOutput);
export type ListJobsResult = z.infer<typeof ListJobsOutputSchema>;

function parseCursor(cursor: string): { instance: string; counter: number } | undefined {
  const match = /^c1\.([0-9a-f]+)\.(\d+)$/.exec(cursor);
  if (!match) return undefined;
  return { instance: match[1] ?? "", counter: Number(match[2]) };
}

function toRow(row: CatalogRow): JobRow {
  const { change: _change, idempotency_key: _key, ...rest } = row;
  return rest;
}

/** Compact job rows, newest first, from the catalog's index (rows shown are read from their files). */
export async function listJobs(ctx: ServerContext, args: ListJobsArgs): Promise<ListJobsResult> {
  let since: number | undefined;
  let note: string | undefined;
  let full = false;
  const cursor = args.changed_since === undefined ? undefined : parseCursor(args.changed_since);
  if (args.changed_since !== undefined && !cursor) {
    throw new OperationError(
      "invalid_argument",
      `changed_since ${JSON.stringify(args.changed_since)} is not a cursor from list_jobs`,
      "pass the cursor field of a previous list_jobs result, or omit changed_since",
    );
  }
  const offset = args.offset ?? 0;
  const limit = args.limit ?? DEFAULT_LIMIT;
  const filters = {
    ...(args.status && args.status.length > 0 ? { states: args.status } : {}),
    ...(args.project !== undefined ? { project: args.project } : {}),
    ...(args.created_by !== undefined ? { created_by: args.created_by } : {}),
    offset,
    limit,
  };
  let page = await ctx.catalog.query(cursor ? { ...filters, changedAfter: cursor.counter } : filters);
  if (cursor && (cursor.instance !== page.instance || cursor.counter > page.counter)) {
    full = true;
    note =
      "the cursor is from another job index (it was rebuilt, or another queue's): this is the full listing; keep the new cursor";
    page = await ctx.catalog.query(filters);
  } else if (cursor) since = cursor.counter;
  if (page.building)
    note = `the job index is still being read from the queue folders (${page.building.read} of ${page.building.planned} jobs so far): this listing may miss jobs; job_status reads any job from its files`;
  let removed: string[] = [];
  if (since !== undefined) {
    const gone = page.removedSince(since);
    removed = gone.ids.slice(0, 200);
    if (!gone.complete)
      note = "some removals before this cursor were forgotten; list without changed_since to resync";
  }
  return {
    jobs: page.rows.map(toRow),
    total: page.total,
    ...(offset + limit < page.total ? { next_offset: offset + limit } : {}),
    cursor: `c1.${page.instance}.${page.counter}`,
    removed,
    full_listing: full,
    ...(note ? { note } : {}),
  };
}
