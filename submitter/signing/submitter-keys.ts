import type { SigningKey, TrustedKey } from "../../protocol/index.ts";
import { checkKeyOutsideQueue, loadSigningKey, loadTrustedKeys } from "../../protocol/index.ts";

/** Which key files the submitting side was given (--signing-key, --trust-key or their env). */
export interface SubmitterKeyFiles {
  /** This side's private key: signs job.json and cancel requests. */
  signingKey?: string | undefined;
  /** The workstation's public keys: fetch_results verifies its records with them. */
  trustKeys: readonly string[];
}

export interface SubmitterKeys {
  signingKey?: SigningKey;
  trustedKeys: TrustedKey[];
}

/**
 * Loads the key files, each refused first when it lies inside the queue: anyone who can write the
 * synced folder could read a private key there, or swap a trusted key for their own.
 */
export async function loadSubmitterKeys(files: SubmitterKeyFiles, queueRoot: string): Promise<SubmitterKeys> {
  if (files.signingKey !== undefined)
    await checkKeyOutsideQueue(files.signingKey, [queueRoot], "signing key");
  for (const file of files.trustKeys) await checkKeyOutsideQueue(file, [queueRoot], "trusted key");
  const signingKey = files.signingKey !== undefined ? await loadSigningKey(files.signingKey) : undefined;
  const trustedKeys = await loadTrustedKeys(files.trustKeys);
  return { ...(signingKey ? { signingKey } : {}), trustedKeys };
}

/** The start-up line's clause on keys, so a log shows at once whether jobs are signed. */
export function describeKeys(keys: SubmitterKeys): string {
  const signing = keys.signingKey
    ? `signing jobs as ${keys.signingKey.keyId}`
    : "jobs unsigned (no --signing-key)";
  const trust =
    keys.trustedKeys.length > 0
      ? `runner records checked against ${keys.trustedKeys.map((key) => key.keyId).join(", ")}`
      : "runner records not checked (no --trust-key)";
  return `${signing}; ${trust}`;
}
