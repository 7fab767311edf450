import type { JobStatus } from "../../protocol/index.ts";
import { isTerminal, JOB_STATUSES } from "../../protocol/index.ts";

/** What a reader can say about a job: the protocol's statuses plus archived and unknown. */
export const JOB_STATES = [...JOB_STATUSES, "archived", "unknown"] as const;
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

/** A state no job leaves: a terminal protocol status, or archived. */
export function isFinalState(state: JobState): boolean {
  return state === "archived" || (state !== "unknown" && isTerminal(state));
}
