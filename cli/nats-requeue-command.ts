import type { KV } from "@nats-io/kv";
import type { RunnerHeartbeat } from "../protocol/index.ts";
import { isJobId, RunnerHeartbeatSchema } from "../protocol/index.ts";
import { requeueClaim, returnLicences } from "../protocol/nats-claims.ts";
import type { NatsQueue, NatsSettings } from "../protocol/nats-connect.ts";
import {
  CarriedFileSchema,
  ClaimRecordSchema,
  jobKey,
  LicencePoolSchema,
  licenceKey,
  NATS_DISPATCH_SUBJECT,
  runnerKey,
} from "../protocol/nats-layout.ts";
import { readRecord } from "../protocol/nats-records.ts";
import { OperationError } from "../submitter/operations/operation-error.ts";
import {
  NATS_OPTIONS,
  NATS_USAGE,
  oneJobId,
  out,
  outJson,
  parse,
  runCli,
  UsageError,
} from "./submitter/cli-support.ts";

const USAGE = `usage: atomizer-jobs nats-requeue JOB_ID --nats URL [--force] [--json]

Puts a job whose runner host will not come back into the NATS queue again, for another runner: the
claim goes back to queued, the licences that host holds for the job return to their pools, and the
job is dispatched again. Refused while the claim's lease holds, and while the host's heartbeat is
fresh (seen within 3 of its intervals): a live host takes its own claims up again when it returns.
${NATS_USAGE}
  --force              requeue although the host's heartbeat is fresh (never while the lease holds):
                       only when that host is known to be gone for good
  --json               print the outcome as JSON`;

const OPTIONS = {
  ...NATS_OPTIONS,
  force: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** A heartbeat this many of its own intervals old means the runner is not running. */
const SILENT_INTERVALS = 3;

type Heartbeat = { seen: RunnerHeartbeat } | { unreadable: string } | undefined;

async function heartbeatOf(kv: KV, host: string): Promise<Heartbeat> {
  try {
    const record = await readRecord(kv, runnerKey(host), CarriedFileSchema);
    if (record === undefined) return undefined;
    return { seen: RunnerHeartbeatSchema.parse(JSON.parse(record.value.text)) };
  } catch (error) {
    return { unreadable: (error as Error).message };
  }
}

/** Why the host may still be alive, or undefined when its heartbeat says it is gone. */
function aliveReason(host: string, heartbeat: Heartbeat, now: Date): string | undefined {
  if (heartbeat === undefined) return undefined;
  if ("unreadable" in heartbeat)
    return `the heartbeat of host ${host} cannot be read (${heartbeat.unreadable}), so it may still run`;
  const ageS = Math.round((now.getTime() - Date.parse(heartbeat.seen.last_seen)) / 1000);
  if (ageS > SILENT_INTERVALS * heartbeat.seen.interval_s) return undefined;
  return `host ${host} last seen ${ageS} s ago (heartbeat every ${heartbeat.seen.interval_s} s)`;
}

/** The licence classes that have a pool: keys `licence.<class>`. */
async function licenceClasses(kv: KV): Promise<string[]> {
  const classes: string[] = [];
  for await (const key of await kv.keys("licence.*")) classes.push(key.slice("licence.".length));
  return classes.sort();
}

export interface RequeueOutcome {
  job_id: string;
  host: string;
  attempt: number;
  lease_until: string;
  last_seen: string | null;
  forced: boolean;
  licences_returned: string[];
}

export async function requeueJob(
  nats: NatsQueue,
  jobId: string,
  force: boolean,
  now: Date,
): Promise<RequeueOutcome> {
  const key = jobKey(jobId, "claim");
  const current = await readRecord(nats.kv, key, ClaimRecordSchema);
  if (current === undefined)
    throw new OperationError(
      "not_found",
      `${key} is not on ${nats.url}: no job ${jobId} is queued there`,
      "check the job id (atomizer-jobs list --nats URL) and the server",
    );
  const claim = current.value;
  if (claim.state !== "claimed")
    throw new OperationError(
      "wrong_state",
      `job ${jobId} is ${claim.state === "queued" ? "queued already" : `done (${claim.outcome} on ${claim.host})`}: only a claimed job is requeued`,
      claim.state === "queued" ? "a runner takes it when one has a free slot" : "nothing to do",
    );
  const leaseUntil = claim.lease_until;
  if (Date.parse(leaseUntil) >= now.getTime())
    throw new OperationError(
      "wrong_state",
      `the claim of host ${claim.host} on job ${jobId} holds until ${leaseUntil}: its runner renews it while it runs the job`,
      `stop its runner, or wait until its lease lapses at ${leaseUntil} and try again (--force does not skip this)`,
    );
  const heartbeat = await heartbeatOf(nats.kv, claim.host);
  const alive = aliveReason(claim.host, heartbeat, now);
  if (alive !== undefined && !force)
    throw new OperationError(
      "wrong_state",
      `${alive}: it may come back and take job ${jobId} up again itself`,
      `stop its runner, or wait until its heartbeat is ${SILENT_INTERVALS} intervals old; if host ${claim.host} will not come back, add --force`,
    );

  const requeued = await requeueClaim(nats.kv, jobId, now);
  if (!requeued.ok)
    throw new OperationError(
      "conflict",
      `${key} changed while it was requeued (now ${requeued.current?.state ?? "gone"}): its host or another operator moved it`,
      `look again: atomizer-jobs status ${jobId} --nats URL`,
    );
  const returned: string[] = [];
  for (const licenceClass of await licenceClasses(nats.kv)) {
    const pool = await readRecord(nats.kv, licenceKey(licenceClass), LicencePoolSchema);
    if (pool?.value.held[jobId]?.host !== claim.host) continue;
    await returnLicences(nats.kv, [licenceClass], jobId, claim.host);
    returned.push(licenceClass);
  }
  // A message id of its own: the dispatch of the first submission may still be in the dedupe window.
  await nats.js.publish(NATS_DISPATCH_SUBJECT, jobId, {
    msgID: `${jobId}.requeue.${requeued.claim.attempt}`,
  });
  return {
    job_id: jobId,
    host: claim.host,
    attempt: requeued.claim.attempt,
    lease_until: leaseUntil,
    last_seen: heartbeat !== undefined && "seen" in heartbeat ? heartbeat.seen.last_seen : null,
    forced: alive !== undefined,
    licences_returned: returned,
  };
}

export function run(argv: string[]): Promise<number> {
  return runCli(argv, USAGE, async () => {
    const { values, positionals } = parse(argv, OPTIONS, USAGE);
    const jobId = oneJobId(positionals, USAGE);
    if (!isJobId(jobId)) throw new UsageError(`${JSON.stringify(jobId)} is not a job id\n\n${USAGE}`);
    const url = values.nats ?? (process.env.ATOMIZER_NATS_URL || undefined);
    if (url === undefined)
      throw new UsageError(`the NATS server is needed: --nats URL or ATOMIZER_NATS_URL\n\n${USAGE}`);
    const settings: NatsSettings = {
      url,
      ...(values["nats-creds"] ? { credsFile: values["nats-creds"] } : {}),
    };
    // Loaded only here: no other command of this module needs the NATS client.
    const { natsSettingsProblem, openNats } = await import("../protocol/nats-connect.ts");
    const problem = natsSettingsProblem(settings);
    if (problem !== undefined) throw new UsageError(`${problem}\n\n${USAGE}`);
    const nats = await openNats(settings, process.env, { name: "atomizer-nats-requeue" });
    try {
      const done = await requeueJob(nats, jobId, values.force === true, new Date());
      if (values.json) outJson(done);
      else
        out([
          `job ${jobId} is queued again (attempt ${done.attempt} was host ${done.host}'s, lease lapsed at ${done.lease_until})${done.forced ? ", forced past its fresh heartbeat" : ""}`,
          done.licences_returned.length > 0
            ? `returned its licences: ${done.licences_returned.join(", ")}`
            : "it held no licences",
          "dispatched again: the next runner with a free slot and its labels takes it",
        ]);
    } finally {
      await nats.close();
    }
    return 0;
  });
}
