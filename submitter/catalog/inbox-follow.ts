import { join } from "node:path";
import type { JobRead } from "../../protocol/index.ts";
import { isTerminal } from "../../protocol/index.ts";
import type { ResultsVerification } from "./job-catalog.ts";
import type { FollowMode, JobFollows } from "./job-follows.ts";
import type { ResultsTracker } from "./results-follow.ts";

export interface InboxFollowDeps {
  inboxDir: string;
  results: ResultsTracker;
  /** Undefined when nothing is watched (a one-shot command): the decision is made, no watch set up. */
  follows: JobFollows | undefined;
  /** What the index says was found complete before. */
  settled(jobId: string): string | undefined;
  /** Read the job again (a result folder added may have filled before its watch stood). */
  refresh(jobId: string): void;
}

export interface InboxFollow {
  /** Why inbox/<id>/ is followed; none when it can no longer change anything. */
  mode?: FollowMode;
  /** Results seen syncing that just verified. */
  verified?: ResultsVerification;
  settled?: string;
}

/** Follows inbox/<id>/ while its job.json or results can still change, and says why. */
export async function followInbox(
  deps: InboxFollowDeps,
  jobId: string,
  inbox: JobRead,
  inInbox: boolean,
): Promise<InboxFollow> {
  let outcome: InboxFollow = {};
  if (!inInbox) outcome = {};
  else if (inbox.kind !== "ok" || !isTerminal(inbox.job.status)) outcome = { mode: "job" };
  else {
    const dir = join(deps.inboxDir, jobId);
    const decision = await deps.results.check(jobId, dir, inbox.job, deps.settled(jobId));
    outcome = {
      ...(decision.follow ? { mode: "results" as const } : {}),
      ...(decision.verified ? { verified: decision.verified } : {}),
      ...(decision.settled ? { settled: decision.settled } : {}),
    };
  }
  if (!deps.follows) return outcome;
  // Not awaiting the watcher's close: the follow ends now, before the row that says so is reported.
  if (outcome.mode === undefined) void deps.follows.unfollow(jobId);
  else {
    const manifest = inbox.kind === "ok" ? inbox.job.results?.files : undefined;
    if (await deps.follows.follow(jobId, outcome.mode, manifest)) deps.refresh(jobId);
  }
  return outcome;
}
