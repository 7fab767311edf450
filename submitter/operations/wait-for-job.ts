import { z } from "zod";
import { MAX_JOB_ID_LENGTH } from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import { isFinalState } from "../jobs/job-state.ts";
import type { StatusView } from "../jobs/status-view.ts";
import { changeFingerprint } from "../jobs/status-view.ts";
import { checkJobIdArgument, unknownJobError } from "./job-lookup.ts";
import { jobStatus } from "./job-status.ts";

/** Agent clients cut calls off at about 60 s; a wait never gets close to that. */
export const MAX_WAIT_S = 45;
const DEFAULT_WAIT_S = 30;

/**
 * After a change to a state that is not final, a wait lingers this long for the next one: a runner
 * that accepts a job usually starts it at once, and queued-then-running is one thing to report.
 */
export const SETTLE_MS = 2000;

export const WAIT_UNTIL = ["state", "progress"] as const;
export type WaitUntil = (typeof WAIT_UNTIL)[number];

export const WaitForJobInput = {
  job_id: z.string().max(MAX_JOB_ID_LENGTH),
  seq: z.number().int().min(0).optional().describe("job.seq you last saw (0 after submit_job)"),
  timeout_s: z.number().min(0).max(MAX_WAIT_S).optional().meta({ default: DEFAULT_WAIT_S }),
  until: z
    .enum(WAIT_UNTIL)
    .optional()
    .describe('"progress": return on progress too')
    .meta({ default: "state" }),
};
const WaitForJobInputSchema = z.object(WaitForJobInput);
export type WaitForJobArgs = z.infer<typeof WaitForJobInputSchema>;

export interface WaitResult {
  changed: boolean;
  timed_out: boolean;
  waited_s: number;
  job: StatusView;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Called with every recomputed view while waiting (the CLI shows live progress, MCP sends notifications). */
  onView?: (view: StatusView) => void;
}

/** What "until: state" treats as a change: the state, a heartbeat going stale, a new problem. */
export function stateFingerprint(view: StatusView): string {
  return JSON.stringify([view.state, "stale" in view ? view.stale : null, view.problems ?? null]);
}

function fingerprintFor(until: WaitUntil): (view: StatusView) => string {
  return until === "progress" ? changeFingerprint : stateFingerprint;
}

/**
 * Waits for the job to change after `seq`, driven by the catalog's change subscription (no polling).
 * until "progress": returns on any status or progress change (a runner heartbeat alone is none).
 * until "state" (default): returns when the state differs from the one at the call's start (for
 * seq 0, from "submitted", the state submit_job left it in), a heartbeat goes stale or a problem
 * appears; progress alone does not return, so one call covers a whole bound of a long run.
 * A final job returns at once; the timeout returns with changed: false.
 */
export async function waitForJob(
  ctx: ServerContext,
  args: WaitForJobArgs,
  options: WaitOptions = {},
): Promise<WaitResult> {
  const jobId = checkJobIdArgument(args.job_id);
  const until = args.until ?? "state";
  const timeoutMs = Math.min(args.timeout_s ?? DEFAULT_WAIT_S, MAX_WAIT_S) * 1000;
  const started = Date.now();
  const waited = () => Math.round((Date.now() - started) / 100) / 10;
  let unsubscribe: (() => void) | undefined;
  try {
    let wake: (() => void) | undefined;
    let pending = false;
    unsubscribe = await ctx.catalog.subscribe(jobId, () => {
      pending = true;
      wake?.();
    });
    const first = await jobStatus(ctx, jobId);
    if (first.state === "unknown") throw unknownJobError(jobId, first.suggestions);
    options.onView?.(first);
    const seq = args.seq ?? first.seq;
    const fingerprint = fingerprintFor(until);
    const movedSinceSeq =
      until === "progress" ? first.seq > seq : seq === 0 && first.seq > 0 && first.state !== "submitted";
    if (isFinalState(first.state))
      return { changed: movedSinceSeq, timed_out: false, waited_s: waited(), job: first };
    const baseline = fingerprint(first);
    let latest: StatusView = first;
    let deadline = started + timeoutMs;
    let changed = movedSinceSeq;
    if (changed && until === "progress") return { changed, timed_out: false, waited_s: waited(), job: first };
    if (changed) deadline = Math.min(deadline, Date.now() + SETTLE_MS);
    while (!options.signal?.aborted) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      if (!pending) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          const done = () => {
            clearTimeout(timer);
            options.signal?.removeEventListener("abort", done);
            resolve();
          };
          wake = done;
          options.signal?.addEventListener("abort", done, { once: true });
        });
        wake = undefined;
      }
      if (!pending) continue;
      pending = false;
      latest = await jobStatus(ctx, jobId);
      options.onView?.(latest);
      if (fingerprint(latest) === baseline && !changed) continue;
      changed = true;
      if (until === "progress" || isFinalState(latest.state)) break;
      // Not final: linger briefly, so queued-then-running (or a burst of rewrites) is one return.
      deadline = Math.min(deadline, Date.now() + SETTLE_MS);
    }
    if (!changed && !options.signal?.aborted) {
      // A heartbeat going stale writes no file: look once more, so the answer is current.
      latest = await jobStatus(ctx, jobId);
      changed = fingerprint(latest) !== baseline;
    }
    return { changed, timed_out: !changed, waited_s: waited(), job: latest };
  } finally {
    unsubscribe?.();
  }
}
