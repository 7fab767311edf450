/** One job in a hand-off event. */
export interface HandoffItem {
  jobId: string;
  /** "completed after 2h 14m, 120 of 150 trials, best 0.0123 at r=1.2" */
  summary: string;
  /** What happened to the team-channel message, so the agent knows what the team has already seen. */
  channelNote: string;
  /** Handed over before and not yet fetched. */
  reminder: boolean;
}

/** Most jobs named in one event; the rest follow in the next wake. */
export const MAX_HANDOFF_ITEMS = 20;
export const HANDOFF_MARKER = "[atomizer-job-queue hand-off]";

/**
 * The system event that hands finished jobs to the post-processing agent: what ended, what the team
 * was told, and the steps SKILL.md describes. Plain text: OpenClaw puts it into the agent's next prompt.
 */
export function handoffText(items: readonly HandoffItem[], agentId: string, resendAfterMs: number): string {
  const count = items.length === 1 ? "1 finished job is" : `${items.length} finished jobs are`;
  const lines = [`${HANDOFF_MARKER} ${count} waiting for post-processing by agent "${agentId}":`];
  for (const item of items) {
    lines.push(
      `- ${item.jobId}: ${item.summary}. ${item.channelNote}${item.reminder ? " (reminder: handed over before, not fetched yet)" : ""}`,
    );
  }
  const minutes = Math.max(1, Math.round(resendAfterMs / 60_000));
  lines.push(
    "For each job: fetch_results {job_id} -> analyse the copy in work_dir -> report to the job's channel " +
      "as TASK / STATUS / RESULT / CONFIDENCE / NOTES -> archive_job {job_id}.",
    `A complete fetch_results (or archive_job) acknowledges the hand-off; until then it is repeated every ${minutes} min.`,
  );
  return lines.join("\n");
}
