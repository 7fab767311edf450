import { isFinalState } from "../../submitter/jobs/job-state.ts";
import { describeProgress, describeStatus } from "../../submitter/jobs/status-text.ts";
import type { StatusView } from "../../submitter/jobs/status-view.ts";
import { MAX_WAIT_S, waitForJob } from "../../submitter/operations/wait-for-job.ts";
import { intOption, oneJobId, out, outJson, QUEUE_OPTIONS, queueCommand } from "./cli-support.ts";

const USAGE = `usage: atomizer-jobs wait JOB_ID [--timeout SECONDS] [--seq N] [--queue DIR] [--json]

Follows a job, printing each change of state or progress, until it is final (exit 0 if completed,
3 if failed or cancelled) or --timeout passes (exit 4). --json prints one JSON view per change.`;

const OPTIONS = { ...QUEUE_OPTIONS, timeout: { type: "string" }, seq: { type: "string" } } as const;

function progressLine(view: StatusView): string {
  const time = new Date().toISOString().slice(11, 19);
  const progress = "progress" in view ? describeProgress(view.progress) : undefined;
  const stale = "stale" in view && view.stale ? " (heartbeat stale)" : "";
  return `${time} ${view.state}${stale}${progress ? ` - ${progress}` : ""}`;
}

export const run = queueCommand({
  usage: USAGE,
  options: OPTIONS,
  args: ({ values, positionals }) => ({
    jobId: oneJobId(positionals, USAGE),
    limitS: intOption(values.timeout, "timeout", USAGE),
    seq: intOption(values.seq, "seq", USAGE),
  }),
  run: async (ctx, { jobId, limitS, seq: firstSeq }, { values }) => {
    let seq = firstSeq;
    const deadline = limitS !== undefined ? Date.now() + limitS * 1000 : Number.POSITIVE_INFINITY;
    const show = (view: StatusView) =>
      values.json ? process.stdout.write(`${JSON.stringify(view)}\n`) : out(progressLine(view));
    let last: StatusView | undefined;
    let first = true;
    for (;;) {
      const remaining = (deadline - Date.now()) / 1000;
      if (remaining <= 0) break;
      const result = await waitForJob(ctx, {
        job_id: jobId,
        ...(seq !== undefined ? { seq } : {}),
        timeout_s: first ? 0 : Math.min(MAX_WAIT_S, remaining),
        // A person at a terminal watches progress, not only state changes.
        until: "progress",
      });
      if (first || result.changed) show(result.job);
      first = false;
      last = result.job;
      seq = result.job.seq;
      if (isFinalState(result.job.state)) break;
    }
    if (!last) return 4;
    if (!values.json) {
      if (isFinalState(last.state)) out(describeStatus(last).filter((line) => !line.startsWith("next:")));
      else out(`still ${last.state} after ${limitS} s`);
    } else if (!isFinalState(last.state)) outJson({ timed_out: true, job: last });
    if (!isFinalState(last.state)) return 4;
    const finalState = last.state === "archived" ? last.final_status : last.state;
    return finalState === "completed" ? 0 : 3;
  },
});
