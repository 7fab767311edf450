import { z } from "zod";
import type { ServerContext } from "../context.ts";
import { isFinalState } from "../jobs/job-state.ts";
import type { StatusView } from "../jobs/status-view.ts";
import { changeFingerprint } from "../jobs/status-view.ts";
import { checkJobIdArgument, unknownJobError } from "./job-lookup.ts";
import { jobStatus } from "./job-status.ts";

/** Agent clients cut calls off at about 60 s; a wait never gets close to that. */
export const MAX_WAIT_S = 45;

export const WaitForJobInput = {
  job_id: z.string().describe("the job to wait for"),
  seq: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("seq from your last job_status/wait_for_job; returns once the job moved past it"),
  timeout_s: z
    .number()
    .min(0)
    .max(MAX_WAIT_S)
    .optional()
    .describe(`how long to wait at most (default 30, at most ${MAX_WAIT_S})`),
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
  /** Called with every recomputed view while waiting (the CLI shows live progress). */
  onView?: (view: StatusView) => void;
}

/**
 * Returns as soon as the job's status or progress changes after `seq` (a runner heartbeat alone is no
 * change), or after the timeout with changed: false. Driven by the catalog's change subscription, not polling.
 */
export async function waitForJob(
  ctx: ServerContext,
  args: WaitForJobArgs,
  options: WaitOptions = {},
): Promise<WaitResult> {
  const jobId = checkJobIdArgument(args.job_id);
  const timeoutMs = Math.min(args.timeout_s ?? 30, MAX_WAIT_S) * 1000;
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
    if (first.state === "unknown")
      throw unknownJobError(jobId, first.state === "unknown" ? first.suggestions : []);
    const seq = args.seq ?? first.seq;
    if (first.seq > seq) return { changed: true, timed_out: false, waited_s: waited(), job: first };
    if (isFinalState(first.state))
      return { changed: false, timed_out: false, waited_s: waited(), job: first };
    const fingerprint = changeFingerprint(first);
    let latest: StatusView = first;
    const deadline = started + timeoutMs;
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
      if (changeFingerprint(latest) !== fingerprint) {
        return { changed: true, timed_out: false, waited_s: waited(), job: latest };
      }
    }
    return { changed: false, timed_out: true, waited_s: waited(), job: latest };
  } finally {
    unsubscribe?.();
  }
}
