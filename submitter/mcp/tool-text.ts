import { describeStatus } from "../jobs/status-text.ts";
import type { ArchiveJobResult } from "../operations/archive-job.ts";
import type { CancelJobResult } from "../operations/cancel-job.ts";
import type { FetchResultsSummary } from "../operations/fetch-results.ts";
import type { JobRow, ListJobsResult } from "../operations/list-jobs.ts";
import type { RunnerStatusResult } from "../operations/runner-status.ts";
import type { SubmitJobResult } from "../operations/submit-job.ts";
import type { TailLogResult } from "../operations/tail-log.ts";
import type { WaitResult } from "../operations/wait-for-job.ts";
import { visualsLines } from "../results/job-visuals.ts";
import { paretoLines } from "../results/pareto-set.ts";
import { runnerSignatureLine, trustText } from "../signing/signature-text.ts";

export function submitText(result: SubmitJobResult): string[] {
  return [
    result.existing
      ? `${result.job_id}: already submitted with this idempotency_key at ${result.created_at}; no new job`
      : `${result.job_id}: submitted (${result.files} files, ${result.bytes} bytes) to ${result.outbox_dir}`,
    `README.md: ${result.readme === "present" ? "from the study" : result.readme === "from_text" ? "from the readme text" : "generated"}`,
    ...(result.resumed_from !== undefined
      ? [`resumes ${result.resumed_from}'s study.db (${result.resumed_trials ?? 0} trials so far)`]
      : []),
    ...(result.signed_by ? [`signed by ${result.signed_by}`] : []),
    ...(result.skipped.length > 0
      ? [`skipped (never synced): ${result.skipped.slice(0, 10).join(", ")}`]
      : []),
    result.next,
  ];
}

export function rowText(row: JobRow): string {
  const parts = [row.job_id, row.state];
  if (row.project) parts.push(row.project);
  if (row.trials_complete !== undefined) {
    parts.push(`${row.trials_complete}${row.trials_planned ? `/${row.trials_planned}` : ""} trials`);
  }
  if (row.best_value !== undefined && row.best_value !== null) parts.push(`best ${row.best_value}`);
  if (row.error_kind) parts.push(`error ${row.error_kind}`);
  if (row.problem) parts.push(`problem: ${row.problem.slice(0, 120)}`);
  return parts.join(" | ");
}

export function listText(result: ListJobsResult): string[] {
  const lines = [
    `${result.jobs.length} of ${result.total} jobs${result.full_listing ? " (full listing)" : ""}`,
    ...result.jobs.map(rowText),
  ];
  if (result.removed.length > 0) lines.push(`removed: ${result.removed.join(", ")}`);
  if (result.note) lines.push(`note: ${result.note}`);
  if (result.next_offset !== undefined) lines.push(`more: list_jobs {offset: ${result.next_offset}}`);
  lines.push(`next: list_jobs {changed_since: "${result.cursor}"} shows only what changed`);
  return lines;
}

export function waitText(result: WaitResult): string[] {
  const head = result.changed
    ? `changed after ${result.waited_s} s`
    : result.timed_out
      ? `no change in ${result.waited_s} s`
      : "no change: the job is final";
  return [head, ...describeStatus(result.job)];
}

export function tailText(result: TailLogResult): string[] {
  if (!result.exists) {
    return [
      `${result.job_id} (${result.state}): no stdout.log yet`,
      `next: tail_log {job_id: "${result.job_id}", offset: 0} later`,
    ];
  }
  return [
    `${result.job_id} (${result.state}): bytes ${result.offset}-${result.next_offset} of ${result.size}${result.restarted ? " (log was replaced; restarted at 0)" : ""}`,
    result.text,
    result.eof
      ? `next: tail_log {job_id: "${result.job_id}", offset: ${result.next_offset}} for new output`
      : `next: tail_log {job_id: "${result.job_id}", offset: ${result.next_offset}} for more`,
  ];
}

export function cancelText(result: CancelJobResult): string[] {
  return [
    `${result.job_id}: cancel ${result.already_requested ? "already requested" : "requested"} at ${result.requested_at} by ${result.requested_by}`,
    result.outcome === "kill"
      ? "the runner will kill the running process tree and mark it cancelled"
      : "the runner will drop it before it starts and mark it cancelled",
    `next: wait_for_job {job_id: "${result.job_id}"}`,
  ];
}

export function archiveText(result: ArchiveJobResult): string[] {
  return [
    result.already_archived
      ? `${result.job_id}: already archived in ${result.archive_dir}`
      : `${result.job_id}: archived (${result.final_status}, ${result.files} files, ${result.bytes} bytes) to ${result.archive_dir}; outbox entry removed`,
    "the runner removes its inbox copy on its own",
  ];
}

export function runnersText(result: RunnerStatusResult): string[] {
  const backend = result.backend === "nats" ? [`backend: nats (${result.nats_url ?? "NATS JetStream"})`] : [];
  if (result.runners.length === 0)
    return [
      ...backend,
      result.backend === "nats"
        ? "no runner has published a heartbeat to NATS"
        : "no runner has published a heartbeat in inbox/.runners/",
      `next: start \`atomizer-jobs runner${result.backend === "nats" ? " --nats URL" : ""}\` on the workstation`,
    ];
  return [
    ...backend,
    `${result.active} active, ${result.silent} silent${result.stopped > 0 ? `, ${result.stopped} stopped` : ""}`,
    ...result.runners.map((runner) =>
      runner.problem
        ? `${runner.host}: unreadable heartbeat: ${runner.problem}`
        : `${runner.host}: ${runner.stopped_at ? `STOPPED at ${runner.stopped_at}` : runner.silent ? "SILENT" : "active"}, last seen ${runner.last_seen} (${runner.age_s} s ago), v${runner.version}, ${runner.slots} slots, running ${runner.running.length ? runner.running.join(", ") : "nothing"}, queued ${runner.queued.length}${runner.waiting_for ? `; queued NX jobs wait: ${runner.waiting_for}` : ""}; ${trustText(runner)}`,
    ),
  ];
}

export function fetchText(result: FetchResultsSummary): string[] {
  const lines = [
    result.complete || result.missing.length + result.mismatched.length + result.refused.length > 0
      ? `${result.job_id} (${result.state}): ${result.files_copied} of ${result.files_total} result files copied and verified to ${result.work_dir}`
      : `${result.job_id} (${result.state}): no results manifest, so nothing can be verified; ${result.files_copied} files copied as found to ${result.work_dir}`,
    runnerSignatureLine(result),
  ];
  if (result.missing.length > 0) lines.push(`missing (still syncing?): ${result.missing.join(", ")}`);
  if (result.mismatched.length > 0)
    lines.push(`content differs (still syncing?): ${result.mismatched.join(", ")}`);
  for (const study of result.study) {
    const counts = Object.entries(study.trials)
      .map(([state, n]) => `${n} ${state}`)
      .join(", ");
    lines.push(
      `study ${study.study_name}: ${study.trials_total} trials (${counts}); direction ${study.directions.join(", ")}`,
    );
    for (const best of study.best) {
      lines.push(
        `best objective ${best.objective} (${best.direction}): ${best.value ?? "none"}${best.trial_number !== null ? ` at trial ${best.trial_number}` : ""} params ${JSON.stringify(best.params).slice(0, 300)}`,
      );
    }
    if (study.note) lines.push(study.note);
    if (study.pareto) lines.push(...paretoLines(study.pareto));
  }
  if (result.study_error) lines.push(`study.db: ${result.study_error}`);
  for (const csv of result.csv)
    lines.push(`${csv.path}: ${csv.rows} rows, columns ${csv.columns.join(", ")}`);
  for (const image of result.images) {
    lines.push(`${image.path}: ${image.included ? "image attached" : `not attached (${image.note})`}`);
  }
  lines.push(...visualsLines(result));
  if (result.log_tail.length > 0)
    lines.push("log tail:", ...result.log_tail.slice(-10).map((line) => `  ${line}`));
  lines.push(result.next);
  return lines;
}
