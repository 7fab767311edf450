// The claim fence and the licence pool, both changed only by compare-and-set on a KV revision: of two
// runners racing for a job exactly one write lands, and the loser sees the winner's record. The KV
// entry decides who runs a job, whatever the dispatch stream delivers or acknowledges (a late ack of
// an old delivery, nats-server issue 4786, removes the message but cannot move the claim).
import type { KV } from "@nats-io/kv";
import { ProtocolError } from "./errors.ts";
import type { TerminalStatus } from "./job-schema.ts";
import type { ClaimRecord, LicencePool } from "./nats-layout.ts";
import { ClaimRecordSchema, jobKey, LicencePoolSchema, licenceKey } from "./nats-layout.ts";
import { createRecord, readRecord, updateRecord } from "./nats-records.ts";

export type ClaimOutcome =
  | { ok: true; claim: ClaimRecord; revision: number }
  | { ok: false; current: ClaimRecord | undefined; revision?: number };

/**
 * A licence entry for a job whose claim is still queued this long after it was taken: its taker died
 * between taking it and claiming (milliseconds apart when alive), so another host may take it over.
 */
export const STALE_LICENCE_MS = 10 * 60 * 1000;

/** A CAS loop retries only while others make progress; this many lost races in a row is a fault, not contention. */
const MAX_CAS_ROUNDS = 1000;

function tooManyRounds(key: string): ProtocolError {
  return new ProtocolError(
    "conflict",
    `${key} changed under ${MAX_CAS_ROUNDS} compare-and-set attempts in a row: something rewrites it in a loop; check the processes writing to the NATS KV bucket`,
    { key },
  );
}

function leaseUntil(now: Date, leaseS: number): string {
  if (!(Number.isFinite(leaseS) && leaseS > 0))
    throw new Error(`lease ${leaseS} s is not a positive number of seconds`);
  return new Date(now.getTime() + leaseS * 1000).toISOString();
}

function lost(current: { value: ClaimRecord; revision: number } | undefined): ClaimOutcome {
  return current === undefined
    ? { ok: false, current: undefined }
    : { ok: false, current: current.value, revision: current.revision };
}

/** Writes `queued` (attempt 0) at submission; a claim already there means the id is taken. */
export async function createQueuedClaim(kv: KV, jobId: string, now: Date): Promise<number> {
  const key = jobKey(jobId, "claim");
  const claim: ClaimRecord = { state: "queued", queued_at: now.toISOString(), attempt: 0 };
  const revision = await createRecord(kv, key, claim);
  if (revision === undefined) {
    throw new ProtocolError(
      "conflict",
      `${key} already exists: job id ${jobId} is taken; submit under a new id`,
      { key, jobId },
    );
  }
  return revision;
}

/** queued -> claimed by `host` (attempt + 1). Anything else, or a lost race, returns the record that stands. */
export async function claimJob(
  kv: KV,
  jobId: string,
  host: string,
  leaseS: number,
  now: Date,
): Promise<ClaimOutcome> {
  const key = jobKey(jobId, "claim");
  const until = leaseUntil(now, leaseS);
  for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
    const current = await readRecord(kv, key, ClaimRecordSchema);
    if (current === undefined || current.value.state !== "queued") return lost(current);
    const claim: ClaimRecord = {
      state: "claimed",
      host,
      attempt: current.value.attempt + 1,
      claimed_at: now.toISOString(),
      lease_until: until,
    };
    const revision = await updateRecord(kv, key, claim, current.revision);
    if (revision !== undefined) return { ok: true, claim, revision };
    // lost the race: the next read shows who won (or a requeue, which may be claimed again)
  }
  throw tooManyRounds(key);
}

/**
 * Reads the claim and checks it is `host`'s, at `revision`. No retry: a revision other than the one the
 * holder last wrote means someone else changed the record, and the holder must look before acting.
 */
async function heldBy(kv: KV, key: string, host: string, revision: number) {
  const current = await readRecord(kv, key, ClaimRecordSchema);
  if (current === undefined || current.revision !== revision) return { current, held: undefined };
  const value = current.value;
  if (value.state !== "claimed" || value.host !== host) return { current, held: undefined };
  return { current, held: value };
}

/** claimed(host) -> claimed(host) with a new lease_until; only the holder, only from its last revision. */
export async function renewClaim(
  kv: KV,
  jobId: string,
  host: string,
  revision: number,
  leaseS: number,
  now: Date,
): Promise<ClaimOutcome> {
  const key = jobKey(jobId, "claim");
  const until = leaseUntil(now, leaseS);
  const { current, held } = await heldBy(kv, key, host, revision);
  if (held === undefined) return lost(current);
  const claim: ClaimRecord = { ...held, lease_until: until };
  const next = await updateRecord(kv, key, claim, revision);
  if (next === undefined) return lost(await readRecord(kv, key, ClaimRecordSchema));
  return { ok: true, claim, revision: next };
}

/** claimed(host) -> done with the job's outcome; only the holder, only from its last revision. */
export async function commitClaim(
  kv: KV,
  jobId: string,
  host: string,
  revision: number,
  outcome: TerminalStatus,
  now: Date,
): Promise<ClaimOutcome> {
  const key = jobKey(jobId, "claim");
  const { current, held } = await heldBy(kv, key, host, revision);
  if (held === undefined) return lost(current);
  const claim: ClaimRecord = {
    state: "done",
    host,
    attempt: held.attempt,
    outcome,
    claimed_at: held.claimed_at,
    done_at: now.toISOString(),
  };
  const next = await updateRecord(kv, key, claim, revision);
  if (next === undefined) return lost(await readRecord(kv, key, ClaimRecordSchema));
  return { ok: true, claim, revision: next };
}

/**
 * The operator's way out of a lapsed claim: claimed -> queued, keeping the attempt count. A claim
 * whose lease still holds at `now` is refused (ok false, the claim returned): its host is alive or
 * may be, and would go on running the job beside the next one. No flag skips this.
 */
export async function requeueClaim(kv: KV, jobId: string, now: Date): Promise<ClaimOutcome> {
  const key = jobKey(jobId, "claim");
  for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
    const current = await readRecord(kv, key, ClaimRecordSchema);
    if (current === undefined || current.value.state !== "claimed") return lost(current);
    if (Date.parse(current.value.lease_until) >= now.getTime()) return lost(current);
    const claim: ClaimRecord = {
      state: "queued",
      queued_at: now.toISOString(),
      attempt: current.value.attempt,
    };
    const revision = await updateRecord(kv, key, claim, current.revision);
    if (revision !== undefined) return { ok: true, claim, revision };
  }
  throw tooManyRounds(key);
}

type TakeOne = { ok: true } | { ok: false; waitingFor: string };

async function takeOne(
  kv: KV,
  licenceClass: string,
  jobId: string,
  host: string,
  now: Date,
): Promise<TakeOne> {
  const key = licenceKey(licenceClass);
  for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
    const current = await readRecord(kv, key, LicencePoolSchema);
    if (current === undefined) {
      return {
        ok: false,
        waitingFor: `${licenceClass} licence: no pool ${key} yet (a runner started with --licences ${licenceClass}=N creates it)`,
      };
    }
    const pool = current.value;
    const holder = pool.held[jobId];
    if (holder?.host === host) return { ok: true };
    // Another host took this job's licence and is about to claim it (or lost the race and returns it).
    // Only an entry left so long that its taker must have died between taking and claiming is taken over.
    const stale = holder !== undefined && now.getTime() - Date.parse(holder.at) > STALE_LICENCE_MS;
    if (holder !== undefined && !stale)
      return {
        ok: false,
        waitingFor: `${licenceClass} licence for ${jobId}: taken by ${holder.host} at ${holder.at}, which is claiming it`,
      };
    const inUse = Object.keys(pool.held).length - (stale ? 1 : 0);
    if (inUse >= pool.limit)
      return {
        ok: false,
        waitingFor: `${licenceClass} licence: ${inUse} of ${pool.limit} in use across the pool`,
      };
    const next: LicencePool = {
      limit: pool.limit,
      held: { ...pool.held, [jobId]: { host, at: now.toISOString() } },
    };
    if ((await updateRecord(kv, key, next, current.revision)) !== undefined) return { ok: true };
  }
  throw tooManyRounds(key);
}

/**
 * Takes one licence of every class for `jobId`, or none: when a class is full, the ones taken are
 * returned and `waitingFor` says which pool is full. A class the job already holds counts as taken,
 * so a runner resuming its claim may call this again.
 */
export async function takeLicences(
  kv: KV,
  classes: string[],
  jobId: string,
  host: string,
  now: Date,
): Promise<{ ok: true } | { ok: false; waitingFor: string }> {
  // One order for every taker: two jobs never each hold the licence the other waits for.
  const ordered = [...new Set(classes)].sort();
  for (let index = 0; index < ordered.length; index++) {
    const taken = await takeOne(kv, ordered[index] as string, jobId, host, now);
    if (!taken.ok) {
      // all or none: a job holding part of its licences would block others without running
      await returnLicences(kv, ordered.slice(0, index), jobId, host);
      return taken;
    }
  }
  return { ok: true };
}

/**
 * Removes `jobId` from each class's pool where `host` holds it; a pool it is not in, or where another
 * host holds it (a runner that lost the claim race after a stale take-over), is left alone.
 */
export async function returnLicences(kv: KV, classes: string[], jobId: string, host: string): Promise<void> {
  for (const licenceClass of new Set(classes)) {
    const key = licenceKey(licenceClass);
    let done = false;
    for (let round = 0; round < MAX_CAS_ROUNDS && !done; round++) {
      const current = await readRecord(kv, key, LicencePoolSchema);
      if (current === undefined || current.value.held[jobId]?.host !== host) {
        done = true;
        break;
      }
      const { [jobId]: _returned, ...held } = current.value.held;
      done =
        (await updateRecord(
          kv,
          key,
          { limit: current.value.limit, held } satisfies LicencePool,
          current.revision,
        )) !== undefined;
    }
    if (!done) throw tooManyRounds(key);
  }
}
