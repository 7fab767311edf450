import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Job, JobError } from "../../protocol/index.ts";
import { errnoCode, JOB_FILE, parseJob } from "../../protocol/index.ts";
import type { RunnerContext } from "../context.ts";
import { finishJob, refuseJob } from "../finish-job.ts";
import { salvageJob } from "../intake-result.ts";
import { errorMessage } from "../log.ts";
import { stopRun } from "../supervised-run.ts";

// What the bridge may ask of the runner it lives in, through the runner's own paths (the ledger, the
// inbox writer, stopRun): a stop that needs no cancel file (which a runner with --trust-key would not
// honour unsigned), and the end of a job whose files never arrived. Each runs in the job's lane of
// the runner, so it never interleaves with the intake or the start of that job.

/** What a stop found: "absent" means the runner has not seen the job (nothing local to stop yet). */
export type StopOutcome = "stopping" | "stopped" | "ended" | "absent";

export interface RunnerJobs {
  /** Ends the job as cancelled with `reason` as its error, wherever it is: running, queued, or not taken in yet. */
  stopJob(jobId: string, reason: string): Promise<StopOutcome>;
  /** Ends a job the runner never took in as failed, as intake ends one it refuses; false when the runner knows it already. */
  failJob(jobId: string, jobText: string, error: JobError): Promise<boolean>;
}

/** The submitted job.json as a Job; one that does not read is salvaged, as intake does for its refusal. */
function submittedJob(jobId: string, text: string): Job {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
    return parseJob(raw);
  } catch {
    return salvageJob(raw, jobId);
  }
}

async function outboxJobText(ctx: RunnerContext, jobId: string): Promise<string | undefined> {
  try {
    return await readFile(path.join(ctx.paths.outboxJob(jobId), JOB_FILE), "utf8");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

export function runnerJobs(ctx: RunnerContext): RunnerJobs {
  return {
    stopJob: (jobId, reason) =>
      ctx.serial.run(jobId, async (): Promise<StopOutcome> => {
        if (ctx.active.has(jobId)) {
          // Not awaited, as a cancel is not: the kill takes seconds and needs this lane for the outcome.
          void stopRun(ctx, jobId, { kind: "cancelled", message: reason }).catch((error: unknown) =>
            ctx.log("stop failed", jobId, errorMessage(error)),
          );
          return "stopping";
        }
        const known = ctx.ledger.get(jobId);
        if (known) {
          if (known.status !== undefined) return "ended";
          // Queued, held for a licence server, or taken by the scheduler with its start still to come:
          // the start sees the ledgered end and lets the slot go.
          ctx.scheduler.dequeue(jobId);
          await finishJob(ctx, jobId, {
            status: "cancelled",
            fields: { error: { kind: "cancelled", message: `${reason} (while queued)` } },
            detail: "while queued",
          });
          ctx.pump();
          return "stopped";
        }
        const text = await outboxJobText(ctx, jobId);
        if (text === undefined) return "absent";
        const message = `${reason} (before it started)`;
        await refuseJob(ctx, submittedJob(jobId, text), {
          status: "cancelled",
          fields: { error: { kind: "cancelled", message } },
          detail: message,
        });
        ctx.pending.delete(jobId);
        return "stopped";
      }),
    failJob: (jobId, jobText, error) =>
      ctx.serial.run(jobId, async () => {
        if (ctx.ledger.get(jobId)) return false;
        await refuseJob(ctx, submittedJob(jobId, jobText), {
          status: "failed",
          fields: { error },
          detail: `${error.kind}: ${error.message}`,
        });
        ctx.pending.delete(jobId);
        return true;
      }),
  };
}
