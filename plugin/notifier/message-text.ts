import type { Job, TerminalStatus } from "../../protocol/index.ts";

/** Longest channel message: a glance in the team channel, not a report. */
export const MAX_MESSAGE_CHARS = 1500;
const MAX_LOG_LINES = 8;
const MAX_LINE_CHARS = 200;

const ICONS: Record<TerminalStatus, string> = { completed: "✅", failed: "❌", cancelled: "⏹️" };

/** "2h 14m", "3m 12s", "45s". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

function formatNumber(value: unknown): string {
  if (typeof value === "number")
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (typeof value === "string") return value;
  return JSON.stringify(value) ?? String(value);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** How long the job ran, or that it never started. */
export function runTime(job: Job): string {
  if (job.started_at && job.finished_at) {
    return formatDuration(Date.parse(job.finished_at) - Date.parse(job.started_at));
  }
  return "before it started";
}

/** "120 of 150 trials (3 failed)", or undefined without progress. */
export function trialsText(job: Job): string | undefined {
  const p = job.progress;
  if (!p || p.trials_complete === undefined) return undefined;
  const planned = typeof p.trials_planned === "number" ? ` of ${p.trials_planned}` : "";
  const extra = [
    p.trials_failed ? `${p.trials_failed} failed` : undefined,
    p.trials_pruned ? `${p.trials_pruned} pruned` : undefined,
  ].filter((part) => part !== undefined);
  return `${p.trials_complete}${planned} trials${extra.length > 0 ? ` (${extra.join(", ")})` : ""}`;
}

/** "best 0.0123 (trial 87) at r=1.2, t=3.4", or undefined without a best value. */
export function bestText(job: Job, maxParams = 8): string | undefined {
  const p = job.progress;
  if (!p) return undefined;
  const value =
    typeof p.best_value === "number"
      ? formatNumber(p.best_value)
      : Array.isArray(p.best_values) && p.best_values.length > 0
        ? `[${p.best_values.map(formatNumber).join(", ")}]`
        : undefined;
  if (value === undefined) return undefined;
  const trial = typeof p.best_trial === "number" ? ` (trial ${p.best_trial})` : "";
  const params = Object.entries(p.best_params ?? {});
  const shown = params.slice(0, maxParams).map(([name, v]) => `${name}=${formatNumber(v)}`);
  if (params.length > maxParams) shown.push(`+${params.length - maxParams} more`);
  return `best ${value}${trial}${shown.length > 0 ? ` at ${shown.join(", ")}` : ""}`;
}

/** The error kind and its first line: "exit_code (exit 1): Traceback ...". */
export function errorText(job: Job): string | undefined {
  if (!job.error) return undefined;
  const exit = typeof job.exit_code === "number" ? ` (exit ${job.exit_code})` : "";
  const first = job.error.message.split(/\r?\n/).find((line) => line.trim() !== "") ?? "";
  return `${job.error.kind}${exit}${first ? `: ${clip(first.trim(), MAX_LINE_CHARS)}` : ""}`;
}

/**
 * The one short message posted to a job's team channel when it ends: id, status, duration, trials and
 * best value and parameters, or the error kind and the last log lines. Never longer than
 * MAX_MESSAGE_CHARS; the log is what gets cut.
 */
export function channelMessage(job: Job, status: TerminalStatus, logLines: readonly string[]): string {
  const head = `${ICONS[status]} ${job.job_id} ${status}${job.started_at ? ` after ${runTime(job)}` : ` ${runTime(job)}`}`;
  const lines = [head];
  const trials = trialsText(job);
  const best = bestText(job);
  if (trials || best) lines.push([trials, best].filter((part) => part !== undefined).join(", "));
  if (status !== "completed") {
    const error = errorText(job);
    if (error) lines.push(error);
  }
  lines.push(`project ${job.project}, submitted by ${job.created_by}`);
  if (status !== "completed" && logLines.length > 0) {
    const tail = logLines.slice(-MAX_LOG_LINES).map((line) => `  ${clip(line, MAX_LINE_CHARS)}`);
    const fixed = lines.join("\n").length + "\nlast log lines:".length;
    // Drop the oldest log lines first until the message fits.
    while (tail.length > 0 && fixed + tail.reduce((n, line) => n + line.length + 1, 0) > MAX_MESSAGE_CHARS) {
      tail.shift();
    }
    if (tail.length > 0) lines.push("last log lines:", ...tail);
  }
  return clip(lines.join("\n"), MAX_MESSAGE_CHARS);
}

/** The log lines a failed or cancelled job's message shows: the runner's log_tail, else the log's end. */
export function logLinesFor(job: Job, stdoutTail: readonly string[]): string[] {
  const fromError = job.error?.log_tail?.filter((line) => line.trim() !== "") ?? [];
  return fromError.length > 0 ? fromError.slice(-MAX_LOG_LINES) : stdoutTail.slice(-MAX_LOG_LINES);
}
