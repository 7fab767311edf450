import type { DoctorCheck } from "./doctor-check.ts";
import {
  describeTrusted,
  loadRecordKey,
  loadTrust,
  SIGNED_JOBS_DOC,
  UNAUTHENTICATED_RECORDS,
} from "./runner-keys.ts";

export interface KeyDoctorOptions {
  trustKeys: readonly string[];
  signingKey?: string;
  /** The queue root the keys must lie outside; without it they are loaded but not placed. */
  queueDir?: string;
}

/**
 * The doctor's word on signatures, what the runner would load at start (runner-keys.ts): which jobs it
 * runs, and whether its records are signed. A key the runner would refuse fails here too.
 */
export async function keyChecks(options: KeyDoctorOptions): Promise<DoctorCheck[]> {
  const roots = options.queueDir ? [options.queueDir] : [];
  const checks: DoctorCheck[] = [];
  if (options.trustKeys.length === 0)
    checks.push({
      name: "signed jobs",
      level: "warn",
      message: `no --trust-key: unsigned jobs are accepted (any job placed in outbox/ runs); to require signatures pass --trust-key FILE with the submitters' public key (${SIGNED_JOBS_DOC})`,
    });
  else
    checks.push(
      await loadTrust(options.trustKeys, roots)
        .then(
          (trusted): DoctorCheck => ({
            name: "signed jobs",
            level: "ok",
            message: `runs only jobs signed by ${describeTrusted(trusted)}`,
          }),
        )
        .catch(
          (error: Error): DoctorCheck => ({ name: "signed jobs", level: "fail", message: error.message }),
        ),
    );
  if (options.signingKey)
    checks.push(
      await loadRecordKey(options.signingKey, roots)
        .then(
          (key): DoctorCheck => ({
            name: "record key",
            level: "ok",
            message: `inbox records are signed with ${key.keyId} (${key.file})`,
          }),
        )
        .catch(
          (error: Error): DoctorCheck => ({ name: "record key", level: "fail", message: error.message }),
        ),
    );
  else
    checks.push({
      name: "record key",
      level: "warn",
      message:
        "no --signing-key: inbox records are not signed, so fetch_results cannot tell they came from this workstation" +
        (options.trustKeys.length > 0 ? `; and ${UNAUTHENTICATED_RECORDS}` : ""),
    });
  return checks;
}
