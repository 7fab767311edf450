import type { JobStatus } from "../../protocol/index.ts";

/** What a reader can say about a job: the protocol's statuses plus archived and unknown. */
export const JOB_STATES = [
  "submitted",
  "queued",
  "running",
  "completed",
  "failed",
  "cancelled",
  "archived",
  "unknown",
] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface Sightings {
  /** outbox/<id>/job.json exists (valid or not). */
  outbox: boolean;
  /** Status in a valid inbox/<id>/job.json. */
  inboxStatus: JobStatus | undefined;
  /** An archive/<id>-<stamp>/ folder exists. */
  archived: boolean;
}

/**
 * The state the files prove, and only that (PROTOCOL.md section 4): the runner's inbox view wins
 * while it exists; an archive counts once the outbox entry is gone; nothing at all is "unknown".
 */
export function deriveState(sightings: Sightings): JobState {
  if (sightings.archived && !sightings.outbox) return "archived";
  if (sightings.inboxStatus !== undefined) return sightings.inboxStatus;
  if (sightings.outbox) return "submitted";
  if (sightings.archived) return "archived";
  return "unknown";
}

export function isFinalState(state: JobState): boolean {
  return state === "completed" || state === "failed" || state === "cancelled" || state === "archived";
}
