import { untrustedNext } from "../signing/signature-text.ts";
import type { ProgressView, StatusView } from "./status-view.ts";

function compactJson(value: unknown, max = 200): string {
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

export function describeProgress(progress: ProgressView | undefined): string | undefined {
  if (!progress) return undefined;
  const parts: string[] = [];
  if (progress.trials_complete !== undefined) {
    parts.push(
      `${progress.trials_complete}${progress.trials_planned ? `/${progress.trials_planned}` : ""} trials done`,
    );
  }
  if (progress.best_values && progress.best_values.length > 0)
    parts.push(`best values ${compactJson(progress.best_values)}`);
  else if (progress.best_value !== undefined && progress.best_value !== null) {
    parts.push(
      `best ${progress.best_value}${progress.best_trial !== undefined && progress.best_trial !== null ? ` (trial ${progress.best_trial})` : ""}`,
    );
  }
  if (progress.best_params) parts.push(`params ${compactJson(progress.best_params)}`);
  if (progress.message) parts.push(progress.message);
  return parts.length > 0 ? `progress: ${parts.join(", ")}` : undefined;
}

/** One line per fact, then a "next:" hint: read by language models and people alike. */
export function describeStatus(view: StatusView): string[] {
  const id = view.job_id;
  const lines: string[] = [];
  const wait = `next: wait_for_job {job_id: "${id}", seq: ${view.seq}}`;
  switch (view.state) {
    case "submitted":
      lines.push(`${id}: submitted at ${view.submitted_at}; waiting for ${view.waiting_for}`);
      lines.push(
        view.runner_seen_recently
          ? `runner seen recently (last ${view.last_runner_seen_at ?? "?"})`
          : `no runner seen recently (${view.runners_seen} known${view.last_runner_seen_at ? `, last ${view.last_runner_seen_at}` : ""})`,
      );
      lines.push(wait);
      break;
    case "queued":
      lines.push(
        `${id}: queued${view.queued_at ? ` at ${view.queued_at}` : ""}${view.position !== null ? `, position ${view.position}` : ""}${view.runner_host ? ` on ${view.runner_host}` : ""}`,
      );
      if (view.waiting_for) lines.push(`waiting for: ${view.waiting_for} (it starts as soon as one answers)`);
      lines.push(wait);
      break;
    case "running": {
      lines.push(
        `${id}: running since ${view.started_at ?? "?"}${view.runner_host ? ` on ${view.runner_host}` : ""}`,
      );
      lines.push(
        `heartbeat ${view.heartbeat_age_s ?? "?"} s ago${view.stale ? " - STALE: the runner may have stopped; check runner_status" : ""}`,
      );
      const progress = describeProgress(view.progress);
      if (progress) lines.push(progress);
      lines.push(`${wait} or tail_log {job_id: "${id}"}`);
      break;
    }
    case "completed": {
      lines.push(
        `${id}: completed at ${view.finished_at ?? "?"}${view.exit_code !== undefined ? ` (exit ${view.exit_code})` : ""}`,
      );
      lines.push(`results: ${view.results.summary}`);
      const progress = describeProgress(view.progress);
      if (progress) lines.push(progress);
      lines.push(
        view.results.complete || !view.results.manifest
          ? `next: fetch_results {job_id: "${id}"}`
          : `next: wait a minute for Syncthing, then fetch_results {job_id: "${id}"}`,
      );
      break;
    }
    case "failed":
    case "cancelled":
      lines.push(
        `${id}: ${view.state} at ${view.finished_at ?? "?"}: ${view.error.kind}: ${view.error.message}`,
      );
      if (view.error.missing_files?.length)
        lines.push(`missing files: ${view.error.missing_files.join(", ")}`);
      if (view.log_tail.length > 0)
        lines.push("log tail:", ...view.log_tail.slice(-8).map((line) => `  ${line}`));
      lines.push(
        view.error.kind === "untrusted"
          ? untrustedNext(id)
          : `next: tail_log {job_id: "${id}"}, fetch_results or archive_job {job_id: "${id}"}`,
      );
      break;
    case "archived":
      lines.push(
        `${id}: archived at ${view.archived_at} (final status ${view.final_status}) in ${view.archive_dir}`,
      );
      lines.push(`next: fetch_results {job_id: "${id}"} reads it from the archive`);
      break;
    case "unknown":
      lines.push(`${id}: ${view.reason}`);
      lines.push(
        view.suggestions.length > 0 ? `did you mean: ${view.suggestions.join(", ")}` : "next: list_jobs",
      );
      break;
  }
  if (view.cancel_requested_at && view.state !== "cancelled")
    lines.splice(1, 0, `cancel requested at ${view.cancel_requested_at}`);
  for (const problem of view.problems ?? []) lines.splice(1, 0, `problem: ${problem}`);
  return lines;
}
