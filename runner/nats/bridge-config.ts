import { z } from "zod";
import { LabelNameSchema, LabelsSchema } from "../../protocol/nats-layout.ts";

// What `runner --nats` adds to the runner's settings (docs/runner.md, "Several workstations"). The
// runner itself keeps working on its local folder queue; these settings are the bridge's only.

/** The longest lease a renew timer holds (a third of it must fit Node's 24.8-day timer). */
const MAX_LEASE_S = 2_147_483;

export const NatsRunnerSchema = z.object({
  /** nats://host:port or tls://host:port; credentials never in it (natsSettingsProblem). */
  url: z.string().min(1),
  /** A .creds file; else ATOMIZER_NATS_CREDS / _TOKEN / _USER + _PASSWORD from the environment. */
  credsFile: z.string().min(1).optional(),
  /** What this runner offers; a job asking for labels runs only where every one of them is equal. */
  labels: LabelsSchema.default({}),
  /** Pool limits to store in KV at start (`--licences nx=4`); unset: the pools stay as they are. */
  licences: z.record(LabelNameSchema, z.number().int().nonnegative()).optional(),
  /**
   * How long a claim holds without a renew. Renewed every third of it; a runner that cannot renew
   * within half of it stops its own job, so a partitioned host never runs on beside a requeue.
   */
  leaseS: z.number().positive().max(MAX_LEASE_S).default(600),
  /** How long a job this runner cannot take now (labels, licences) stays hidden from it. */
  nakDelayS: z.number().positive().max(3600).default(2),
  /** How often dispatch messages of queued claims are published again (a submitter died in between). */
  republishS: z.number().positive().max(MAX_LEASE_S).default(300),
  /**
   * Downloads of a held job's submission refused for its content (an object missing, a sha256 that
   * differs) before the job ends failed: the same refusal every time must not hold a claim, a licence
   * and a slot for ever. Failures of the connection are retried without a count.
   */
  downloadTries: z.number().int().positive().max(100).default(5),
  /** Wait before the first download retry; doubled after each failure (4 s: 5 tries span about a minute). */
  downloadRetryS: z.number().positive().max(3600).default(4),
});

export type NatsRunnerConfig = z.infer<typeof NatsRunnerSchema>;
export type NatsRunnerConfigInput = z.input<typeof NatsRunnerSchema>;

/** The licence class a job whose type is one of the runner's NX job types holds, when its pool exists. */
export const NX_LICENCE_CLASS = "nx";

/**
 * Milliseconds between lease rounds: a sixth of the lease, so a renew due every third of it is never
 * a round late, and at most 5 s, so a failing renew is retried soon and the half-lease stop is on time.
 */
export function leaseTickMs(leaseS: number): number {
  return Math.max(50, Math.min((leaseS * 1000) / 6, 5000));
}
