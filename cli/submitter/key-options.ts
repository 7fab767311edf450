import { delimiter } from "node:path";
import type { SubmitterKeyFiles, SubmitterKeys } from "../../submitter/signing/submitter-keys.ts";
import { loadSubmitterKeys } from "../../submitter/signing/submitter-keys.ts";

/** The key options of every command that writes to the queue or fetches from it (mcp, submit, cancel, results). */
export const KEY_OPTIONS = {
  "signing-key": { type: "string" },
  "trust-key": { type: "string", multiple: true },
} as const;

/** Their lines in a command's usage. */
export const KEY_USAGE = `  --signing-key FILE   this side's private key (or ATOMIZER_SIGNING_KEY): signs jobs and cancel requests
  --trust-key FILE     the workstation's public key (repeatable; or ATOMIZER_TRUST_KEYS, files separated
                       by "${delimiter}"): the runner's signed records are verified with it (results, fetch_results)`;

export interface KeyValues {
  "signing-key"?: string | undefined;
  "trust-key"?: string[] | undefined;
}

/** The flags, else the environment; a flag replaces its variable rather than adding to it. */
export function keyFiles(values: KeyValues, env: NodeJS.ProcessEnv): SubmitterKeyFiles {
  const signingKey = values["signing-key"] ?? (env.ATOMIZER_SIGNING_KEY || undefined);
  const trustKeys =
    values["trust-key"] && values["trust-key"].length > 0
      ? values["trust-key"]
      : (env.ATOMIZER_TRUST_KEYS ?? "").split(delimiter).filter((file) => file.length > 0);
  return { ...(signingKey ? { signingKey } : {}), trustKeys };
}

/** Loads the keys a command was given; a bad or misplaced key file stops the command before it starts. */
export function commandKeys(values: KeyValues, queueRoot: string): Promise<SubmitterKeys> {
  return loadSubmitterKeys(keyFiles(values, process.env), queueRoot);
}
