import { JOB_STATES } from "../../submitter/jobs/job-state.ts";
import type { JobRow } from "../../submitter/operations/list-jobs.ts";
import { listJobs } from "../../submitter/operations/list-jobs.ts";
import {
  intOption,
  noPositionals,
  out,
  outJson,
  QUEUE_OPTIONS,
  queueCommand,
  UsageError,
} from "./cli-support.ts";

const USAGE = `usage: atomizer-jobs list [--status STATE]... [--project SLUG] [--created-by AGENT] [--limit N] [--offset N] [--queue DIR] [--json]

Lists jobs, newest first. STATE: ${JOB_STATES.join(", ")}`;

const OPTIONS = {
  ...QUEUE_OPTIONS,
  status: { type: "string", multiple: true },
  project: { type: "string" },
  "created-by": { type: "string" },
  limit: { type: "string" },
  offset: { type: "string" },
} as const;

function progressCell(row: JobRow): string {
  if (row.trials_complete === undefined) return row.error_kind ?? "";
  const best =
    row.best_value !== undefined && row.best_value !== null
      ? ` best ${Number(row.best_value.toPrecision(6))}`
      : "";
  return `${row.trials_complete}${row.trials_planned ? `/${row.trials_planned}` : ""}${best}`;
}

/** A plain fixed-width table: readable in a terminal, no colours to strip. */
export function formatTable(rows: readonly JobRow[]): string[] {
  const header = ["JOB", "STATE", "PROJECT", "BY", "PROGRESS"];
  const cells = rows.map((row) => [
    row.job_id,
    row.state,
    row.project ?? "",
    row.created_by ?? "",
    progressCell(row),
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((cell) => (cell[i] ?? "").length)),
  );
  const line = (cell: readonly string[]) =>
    cell
      .map((value, i) => value.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...cells.map(line)];
}

export const run = queueCommand({
  usage: USAGE,
  options: OPTIONS,
  args: ({ values, positionals }) => {
    noPositionals(positionals, USAGE);
    const states = values.status ?? [];
    const bad = states.filter((state) => !(JOB_STATES as readonly string[]).includes(state));
    if (bad.length > 0)
      throw new UsageError(`unknown --status ${bad.join(", ")}; use ${JOB_STATES.join(", ")}\n\n${USAGE}`);
    return {
      states: states as (typeof JOB_STATES)[number][],
      limit: intOption(values.limit, "limit", USAGE),
      offset: intOption(values.offset, "offset", USAGE),
    };
  },
  run: async (ctx, { states, limit, offset }, { values }) => {
    const result = await listJobs(ctx, {
      ...(states.length > 0 ? { status: states } : {}),
      ...(values.project ? { project: values.project } : {}),
      ...(values["created-by"] ? { created_by: values["created-by"] } : {}),
      limit: Math.min(Math.max(limit ?? 50, 1), 200),
      ...(offset !== undefined ? { offset } : {}),
    });
    if (values.json) {
      outJson(result);
      return 0;
    }
    if (result.jobs.length === 0) out("no jobs match");
    else out(formatTable(result.jobs));
    const shown = `${result.jobs.length} of ${result.total} jobs`;
    out(result.next_offset !== undefined ? `${shown}; more with --offset ${result.next_offset}` : shown);
    return 0;
  },
});
