import { z } from "zod";
import type { CancelRequest, Job, JobRead, Progress } from "../../protocol/index.ts";
import { JobErrorSchema, ProgressSchema } from "../../protocol/index.ts";
import { deriveState } from "./job-state.ts";
import { plainLogText } from "./log-file.ts";
import type { ResultsSync } from "./results-check.ts";
import { noResults, ResultsSyncSchema } from "./results-check.ts";
import type { RunnerView } from "./runners.ts";
import { viewShape } from "./view-schema.ts";

// Ids make each schema one definition in the tools' JSON Schema, referenced where the union repeats it.
export const ProgressViewSchema = z.object(
  viewShape(ProgressSchema.shape, [
    "source",
    "trials_complete",
    "trials_planned",
    "trials_pruned",
    "trials_failed",
    "trials_running",
    "best_value",
    "best_values",
    "best_params",
    "best_trial",
    "last_trial_at",
    "message",
    "updated_at",
  ]),
);
export type ProgressView = z.infer<typeof ProgressViewSchema>;

const JobErrorViewSchema = z.object(viewShape(JobErrorSchema.shape, ["kind", "message", "missing_files"]));

const common = {
  job_id: z.string(),
  /** inbox job.json `seq` (0 before the runner wrote one): pass it to wait_for_job. */
  seq: z.number().int(),
  project: z.string().optional(),
  created_by: z.string().optional(),
  created_at: z.string().optional(),
  cancel_requested_at: z.string().optional(),
  /** Files that exist but cannot be used (malformed job.json, ...). */
  problems: z.array(z.string()).optional(),
};

export const StatusViewSchema = z.discriminatedUnion("state", [
  z.object({
    ...common,
    state: z.literal("submitted"),
    submitted_at: z.string(),
    waiting_for: z.string(),
    runner_seen_recently: z.boolean(),
    runners_seen: z.number().int(),
    last_runner_seen_at: z.string().optional(),
  }),
  z.object({
    ...common,
    state: z.literal("queued"),
    queued_at: z.string().optional(),
    position: z.number().int().nullable(),
    runner_host: z.string().optional(),
    /** Why the runner holds it back (inbox job.json `waiting_for`: a licence server not answering). */
    waiting_for: z.string().optional(),
  }),
  z.object({
    ...common,
    state: z.literal("running"),
    started_at: z.string().optional(),
    heartbeat_at: z.string().optional(),
    heartbeat_age_s: z.number().optional(),
    stale: z.boolean(),
    runner_host: z.string().optional(),
    progress: ProgressViewSchema.optional(),
  }),
  z.object({
    ...common,
    state: z.literal("completed"),
    started_at: z.string().optional(),
    finished_at: z.string().optional(),
    exit_code: z.number().nullable().optional(),
    results: ResultsSyncSchema,
    progress: ProgressViewSchema.optional(),
  }),
  z.object({
    ...common,
    state: z.literal("failed"),
    finished_at: z.string().optional(),
    exit_code: z.number().nullable().optional(),
    error: JobErrorViewSchema,
    log_tail: z.array(z.string()),
    results: ResultsSyncSchema.optional(),
  }),
  z.object({
    ...common,
    state: z.literal("cancelled"),
    finished_at: z.string().optional(),
    error: JobErrorViewSchema,
    log_tail: z.array(z.string()),
    results: ResultsSyncSchema.optional(),
  }),
  z.object({
    ...common,
    state: z.literal("archived"),
    archived_at: z.string(),
    archive_dir: z.string(),
    final_status: z.string(),
    finished_at: z.string().optional(),
  }),
  z.object({
    ...common,
    state: z.literal("unknown"),
    reason: z.string(),
    suggestions: z.array(z.string()),
  }),
]);
export type StatusView = z.infer<typeof StatusViewSchema>;

/** Default rewrite interval when a runner does not say (PROTOCOL.md: stale after 3 x heartbeat_s). */
export const DEFAULT_HEARTBEAT_S = 30;
const PROGRESS_KEYS = Object.keys(ProgressViewSchema.shape) as (keyof ProgressView)[];

/** The runner's progress, reduced to the known fields (scripts may add anything). */
export function progressView(progress: Progress | undefined): ProgressView | undefined {
  if (!progress) return undefined;
  const view: Record<string, unknown> = {};
  for (const key of PROGRESS_KEYS) {
    if (progress[key] !== undefined) view[key] = progress[key];
  }
  const parsed = ProgressViewSchema.safeParse(view);
  return parsed.success ? parsed.data : undefined;
}

export interface StatusFacts {
  jobId: string;
  now: Date;
  outbox: JobRead;
  inbox: JobRead;
  archive: { dir: string; archived_at: string; read: JobRead } | undefined;
  runners: readonly RunnerView[];
  cancel: CancelRequest | undefined;
  /** Filled by the caller for a terminal inbox job. */
  results: ResultsSync | undefined;
  logTail: string[] | undefined;
  suggestions: readonly string[];
}

function ageSeconds(now: Date, iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.round((now.getTime() - at) / 1000));
}

/**
 * One job's truth from its files (PROTOCOL.md section 4). Never claims a state no file proves; a
 * running job whose heartbeat is older than 3 x runner.heartbeat_s is flagged stale.
 */
export function buildStatusView(facts: StatusFacts): StatusView {
  const { outbox, inbox, archive } = facts;
  const problems: string[] = [];
  if (outbox.kind === "invalid") problems.push(`outbox job.json unusable: ${outbox.problem}`);
  if (inbox.kind === "invalid") problems.push(`inbox job.json unusable: ${inbox.problem}`);
  if (archive?.read.kind === "invalid") problems.push(`archive job.json unusable: ${archive.read.problem}`);
  const inboxJob = inbox.kind === "ok" ? inbox.job : undefined;
  const outboxJob = outbox.kind === "ok" ? outbox.job : undefined;
  const archivedJob = archive?.read.kind === "ok" ? archive.read.job : undefined;
  const state = deriveState({
    outbox: outbox.kind !== "absent",
    inboxStatus: inboxJob?.status,
    archived: archive !== undefined,
  });
  const known: Job | undefined = inboxJob ?? outboxJob ?? archivedJob;
  const base = {
    job_id: facts.jobId,
    seq: inboxJob?.seq ?? 0,
    ...(known ? { project: known.project, created_by: known.created_by, created_at: known.created_at } : {}),
    ...(facts.cancel ? { cancel_requested_at: facts.cancel.requested_at } : {}),
    ...(problems.length > 0 ? { problems } : {}),
  };
  const runnerHost = inboxJob?.runner?.host;
  switch (state) {
    case "submitted": {
      const recent = facts.runners.filter(
        (runner) => !runner.silent && !runner.stopped_at && !runner.problem,
      );
      const last = facts.runners.find((runner) => runner.last_seen)?.last_seen;
      return {
        ...base,
        state,
        submitted_at: known?.created_at ?? facts.now.toISOString(),
        waiting_for:
          recent.length > 0
            ? "sync to the runner and its file check (Syncthing takes 5-30 s; large model files longer)"
            : "a runner: none has published a heartbeat recently, so nothing will pick this job up until one starts",
        runner_seen_recently: recent.length > 0,
        runners_seen: facts.runners.length,
        ...(last ? { last_runner_seen_at: last } : {}),
      };
    }
    case "queued": {
      let position: number | null = null;
      for (const runner of facts.runners) {
        const index = runner.queued.indexOf(facts.jobId);
        if (index >= 0) position = index + 1;
      }
      return {
        ...base,
        state,
        ...(inboxJob?.queued_at ? { queued_at: inboxJob.queued_at } : {}),
        position,
        ...(runnerHost ? { runner_host: runnerHost } : {}),
        ...(inboxJob?.waiting_for ? { waiting_for: inboxJob.waiting_for } : {}),
      };
    }
    case "running": {
      const heartbeatS = inboxJob?.runner?.heartbeat_s ?? DEFAULT_HEARTBEAT_S;
      const beatAt = inboxJob?.heartbeat_at ?? inboxJob?.started_at;
      const age = ageSeconds(facts.now, beatAt);
      const progress = progressView(inboxJob?.progress);
      return {
        ...base,
        state,
        ...(inboxJob?.started_at ? { started_at: inboxJob.started_at } : {}),
        ...(beatAt ? { heartbeat_at: beatAt } : {}),
        ...(age !== undefined ? { heartbeat_age_s: age } : {}),
        stale: age === undefined || age > 3 * heartbeatS,
        ...(runnerHost ? { runner_host: runnerHost } : {}),
        ...(progress ? { progress } : {}),
      };
    }
    case "completed": {
      const progress = progressView(inboxJob?.progress);
      return {
        ...base,
        state,
        ...(inboxJob?.started_at ? { started_at: inboxJob.started_at } : {}),
        ...(inboxJob?.finished_at ? { finished_at: inboxJob.finished_at } : {}),
        ...(inboxJob?.exit_code !== undefined ? { exit_code: inboxJob.exit_code } : {}),
        results: facts.results ?? noResults("results not checked"),
        ...(progress ? { progress } : {}),
      };
    }
    case "failed":
    case "cancelled": {
      const error = inboxJob?.error;
      const tail = error?.log_tail && error.log_tail.length > 0 ? error.log_tail : (facts.logTail ?? []);
      const view = {
        ...base,
        finished_at: inboxJob?.finished_at,
        error: {
          kind: error?.kind ?? (state === "cancelled" ? "cancelled" : "unknown"),
          message: error?.message ?? "the runner gave no reason",
          ...(error?.missing_files ? { missing_files: error.missing_files.slice(0, 20) } : {}),
        },
        log_tail: tail.slice(-20).map(plainLogText),
        ...(facts.results ? { results: facts.results } : {}),
      };
      if (view.finished_at === undefined) delete view.finished_at;
      return state === "failed"
        ? {
            ...view,
            state,
            ...(inboxJob?.exit_code !== undefined ? { exit_code: inboxJob.exit_code } : {}),
          }
        : { ...view, state };
    }
    case "archived":
      return {
        ...base,
        state,
        archived_at: archive?.archived_at ?? "",
        archive_dir: archive?.dir ?? "",
        final_status: archivedJob?.status ?? "unknown",
        ...(archivedJob?.finished_at ? { finished_at: archivedJob.finished_at } : {}),
      };
    case "unknown":
      return {
        ...base,
        state,
        reason: `no outbox, inbox or archive entry for ${facts.jobId}`,
        suggestions: [...facts.suggestions],
      };
  }
}

/** Status and progress, without the heartbeat: what wait_for_job and list cursors treat as a change. */
export function changeFingerprint(view: StatusView): string {
  const progress = "progress" in view ? view.progress : undefined;
  const results = "results" in view ? view.results?.summary : undefined;
  return JSON.stringify([view.state, progress ?? null, results ?? null, "stale" in view ? view.stale : null]);
}
