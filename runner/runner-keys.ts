import type { RunnerHeartbeat, SigningKey, TrustedKey } from "../protocol/index.ts";
import { checkKeyOutsideQueue, loadSigningKey, loadTrustedKeys } from "../protocol/index.ts";

// The runner's keys (docs/runner.md, "Signed jobs"): the submitters' public keys it trusts, and its own
// private key that signs its inbox records. Loaded once at start; a bad key stops the runner before it
// takes any job, so it never runs unsigned jobs because a key file was mistyped.

/** What the runner does with signatures, loaded from the files its config names. */
export interface RunnerKeys {
  /** With any, only jobs (and cancel requests) signed by one of these are honoured. */
  trusted: readonly TrustedKey[];
  /** Signs every inbox job.json this runner writes (`runner_signature`). */
  recordKey?: SigningKey;
}

/** A key file the runner cannot use: a setup error (exit 2), reported before any job is looked at. */
export class KeySetupError extends Error {
  override name = "KeySetupError";
}

async function setupStep<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new KeySetupError(error instanceof Error ? error.message : String(error));
  }
}

/** The trusted public keys, each refused when it lies inside the synced queue (anyone there could swap it). */
export function loadTrust(files: readonly string[], syncedRoots: readonly string[]): Promise<TrustedKey[]> {
  return setupStep(async () => {
    for (const file of files) await checkKeyOutsideQueue(file, syncedRoots, "trusted key");
    return loadTrustedKeys(files);
  });
}

/** The runner's own private key, refused inside the synced queue (anyone there could read it). */
export function loadRecordKey(file: string, syncedRoots: readonly string[]): Promise<SigningKey> {
  return setupStep(async () => {
    await checkKeyOutsideQueue(file, syncedRoots, "signing key");
    return loadSigningKey(file);
  });
}

export async function loadRunnerKeys(
  config: { trustKeys: readonly string[]; signingKey?: string | undefined },
  queueDir: string,
): Promise<RunnerKeys> {
  const trusted = await loadTrust(config.trustKeys, [queueDir]);
  const recordKey = config.signingKey ? await loadRecordKey(config.signingKey, [queueDir]) : undefined;
  return recordKey ? { trusted, recordKey } : { trusted };
}

/** The runner's own public key as a reader trusts it: what its inbox records are checked against. */
export function recordReaders(keys: RunnerKeys): TrustedKey[] {
  const key = keys.recordKey;
  return key ? [{ keyId: key.keyId, publicKey: key.publicKey, file: key.file }] : [];
}

/** Why signed jobs without a record key are weaker: said at start and by doctor. */
export const UNAUTHENTICATED_RECORDS =
  "inbox records cannot be authenticated without --signing-key: a job.json forged into inbox/ by anyone who can write to the queue can make this runner count a signed job as finished or taken elsewhere (it never runs it); pass --signing-key FILE with this runner's own key";

export const SIGNED_JOBS_DOC = `docs/deployment.md, "Signed jobs"`;

/** "ed25519:ab.. (/keys/a.pub), ed25519:cd.. (/keys/b.pub)" */
export function describeTrusted(trusted: readonly TrustedKey[]): string {
  return trusted.map((key) => `${key.keyId} (${key.file})`).join(", ");
}

/** What the runner says about signatures when it starts: [event, detail] lines. */
export function keyLogLines(keys: RunnerKeys): Array<[string, string]> {
  const lines: Array<[string, string]> = [
    keys.trusted.length > 0
      ? ["signed jobs only", `runs only jobs signed by ${describeTrusted(keys.trusted)}`]
      : [
          "UNSIGNED JOBS ACCEPTED",
          `no --trust-key: any job placed in outbox/ runs, signed or not; to require signatures pass --trust-key FILE with the submitters' public key (${SIGNED_JOBS_DOC})`,
        ],
  ];
  if (keys.recordKey)
    lines.push([
      "records signed",
      `inbox records are signed with ${keys.recordKey.keyId} (${keys.recordKey.file}); only records it signed count after a restart`,
    ]);
  else if (keys.trusted.length > 0)
    lines.push(["records unauthenticated", `${UNAUTHENTICATED_RECORDS} (${SIGNED_JOBS_DOC})`]);
  return lines;
}

/** The heartbeat's word on signatures: which keys it trusts (present = signed jobs only), which key signs its records. */
export function heartbeatKeys(keys: RunnerKeys): Pick<RunnerHeartbeat, "trusted_keys" | "record_key"> {
  return {
    ...(keys.trusted.length > 0 ? { trusted_keys: keys.trusted.map((key) => key.keyId) } : {}),
    ...(keys.recordKey ? { record_key: keys.recordKey.keyId } : {}),
  };
}
