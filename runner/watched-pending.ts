import type { ArrivalWatches } from "./arrival-watches.ts";
import type { PendingJob } from "./job-intake.ts";

export type AfterLook = (jobId: string, task: () => Promise<void>) => Promise<void>;

/**
 * Intake's record of the jobs it is waiting for (IntakeContext.pending), with each job's folder
 * watched for exactly as long as the job is in it. Intake adds a job when it first finds its folder
 * and removes it when it accepts or refuses the job or finds the folder gone, on every path (watch
 * event, rescan, cancel request), so tying the watch to this record leaves no path that forgets to
 * close one.
 */
export class WatchedPendingJobs extends Map<string, PendingJob> {
  readonly #watches: ArrivalWatches;
  readonly #afterLook: AfterLook;

  /** `afterLook` runs a task once the job's current look is over (the job's serial lane). */
  constructor(watches: ArrivalWatches, afterLook: AfterLook) {
    super();
    this.#watches = watches;
    this.#afterLook = afterLook;
  }

  override set(jobId: string, state: PendingJob): this {
    super.set(jobId, state);
    // Most jobs arrive whole (renamed in, or synced before the first look) and are accepted by the
    // look that added them: a watch is opened only if that look ends with the job still waiting.
    this.#afterLook(jobId, async () => {
      if (this.has(jobId)) this.#watches.follow(jobId, true);
    }).catch(() => {
      // Nothing to report: the task cannot fail, and the look before it reports its own failures.
    });
    return this;
  }

  override delete(jobId: string): boolean {
    const had = super.delete(jobId);
    this.#watches.follow(jobId, false);
    return had;
  }

  override clear(): void {
    for (const jobId of [...this.keys()]) this.delete(jobId);
  }
}
