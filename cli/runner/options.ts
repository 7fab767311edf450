import path from "node:path";
import { LabelNameSchema, LabelsSchema } from "../../protocol/nats-layout.ts";

/**
 * The options the runner and the doctor share: the folders, programs and keys the runner uses are the
 * ones the doctor checks.
 */
export const HOST_OPTIONS = {
  queue: { type: "string" },
  work: { type: "string" },
  state: { type: "string" },
  python: { type: "string" },
  "licence-server": { type: "string" },
  "trust-key": { type: "string", multiple: true },
  "signing-key": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The usage lines of the key options, the same for runner and doctor. */
export const KEY_USAGE = `  --trust-key FILE      a submitter's public key (.pub); repeatable, for key rotation (or
                        ATOMIZER_TRUST_KEYS, files separated by "${path.delimiter}"). With any, only jobs
                        and cancel requests signed by one of them are honoured
  --signing-key FILE    this runner's private key: signs its inbox records (or ATOMIZER_SIGNING_KEY)
`;

/**
 * The key files from the options, else from the environment: `--trust-key` replaces ATOMIZER_TRUST_KEYS.
 * Entries are trimmed and empty ones dropped; a --trust-key or ATOMIZER_TRUST_KEYS that is given but
 * names no file is a mistake (UsageError), never "no keys": that would run unsigned jobs. An empty
 * ATOMIZER_TRUST_KEYS ("") is unset.
 */
export function keyFiles(
  values: { "trust-key"?: string[] | undefined; "signing-key"?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): { trustKeys: string[]; signingKey?: string } {
  const option = values["trust-key"] ?? [];
  const fromOption = option.length > 0;
  const listed = fromOption ? option : (env.ATOMIZER_TRUST_KEYS?.split(path.delimiter) ?? []);
  const trustKeys = listed.map((file) => file.trim()).filter((file) => file !== "");
  // "" splits into [""]: an empty variable is unset, a variable of only separators or blanks is not.
  if (trustKeys.length === 0 && (fromOption || (env.ATOMIZER_TRUST_KEYS ?? "") !== ""))
    throw new UsageError(
      `${fromOption ? "--trust-key" : "ATOMIZER_TRUST_KEYS"} is given but names no key file (${JSON.stringify(listed.join(path.delimiter))}); name the submitters' public key files, or leave it out to accept unsigned jobs`,
    );
  const signingValue = values["signing-key"] ?? (env.ATOMIZER_SIGNING_KEY || undefined);
  const signingKey = signingValue?.trim();
  if (signingValue !== undefined && !signingKey)
    throw new UsageError(
      `${values["signing-key"] !== undefined ? "--signing-key" : "ATOMIZER_SIGNING_KEY"} is given but names no key file`,
    );
  return signingKey ? { trustKeys, signingKey } : { trustKeys };
}

/**
 * A runner-side command's `run(argv)`: `read` turns the command line into what `body` takes, or "help";
 * any mistake in it is printed with the usage (exit 2), and --help prints the usage (exit 0).
 */
export function hostCommand<T>(
  name: string,
  usage: string,
  read: (argv: string[]) => T | "help",
  body: (value: T) => Promise<number>,
): (argv: string[]) => Promise<number> {
  return async (argv) => {
    let value: T | "help";
    try {
      value = read(argv);
    } catch (error) {
      process.stderr.write(`atomizer-jobs ${name}: ${(error as Error).message}\n\n${usage}`);
      return 2;
    }
    if (value === "help") {
      process.stdout.write(usage);
      return 0;
    }
    return body(value);
  };
}

/** Parses a positive number of seconds from a command-line value; the error names the option. */
export function parseSeconds(
  name: string,
  value: string | undefined,
  allowZero = false,
  maxSeconds = Number.POSITIVE_INFINITY,
): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0 || (!allowZero && seconds === 0)) {
    throw new UsageError(
      `--${name} must be a ${allowZero ? "non-negative" : "positive"} number of seconds, not ${JSON.stringify(value)}`,
    );
  }
  if (seconds > maxSeconds)
    throw new UsageError(`--${name} must be at most ${maxSeconds} s, not ${JSON.stringify(value)}`);
  return seconds;
}

/** The longest period a timer holds (2^31-1 ms, 24.8 days): longer ones would fire every millisecond. */
export const MAX_PERIOD_S = Math.floor((2 ** 31 - 1) / 1000);

export function parseCount(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1)
    throw new UsageError(`--${name} must be a whole number of at least 1, not ${JSON.stringify(value)}`);
  return count;
}

/** A command-line mistake: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Splits `a=1,b=2` into its pairs; the error names the option and the piece that is wrong. */
function parsePairs(option: string, text: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const piece of text.split(",").map((p) => p.trim())) {
    if (piece === "") continue;
    const at = piece.indexOf("=");
    const name = at > 0 ? piece.slice(0, at).trim() : "";
    const value = at > 0 ? piece.slice(at + 1).trim() : "";
    if (name === "" || value === "")
      throw new UsageError(
        `--${option} takes name=value pairs separated by commas, not ${JSON.stringify(piece)}`,
      );
    const checked = LabelNameSchema.safeParse(name);
    if (!checked.success)
      throw new UsageError(
        `--${option} ${JSON.stringify(name)}: ${checked.error.issues[0]?.message ?? "bad name"}`,
      );
    if (pairs.some(([seen]) => seen === name)) throw new UsageError(`--${option} names ${name} twice`);
    pairs.push([name, value]);
  }
  return pairs;
}

/** `--labels nx=2512,os=win`: what this runner offers to jobs that ask for labels. */
export function parseLabels(text: string | undefined): Record<string, string> | undefined {
  if (text === undefined) return undefined;
  const labels = Object.fromEntries(parsePairs("labels", text));
  const checked = LabelsSchema.safeParse(labels);
  if (!checked.success) throw new UsageError(`--labels: ${checked.error.issues[0]?.message ?? "invalid"}`);
  return checked.data;
}

/** `--licences nx=4`: pool-wide licence limits, stored in NATS KV at start. */
export function parseLicences(text: string | undefined): Record<string, number> | undefined {
  if (text === undefined) return undefined;
  const limits: Record<string, number> = {};
  for (const [name, value] of parsePairs("licences", text)) {
    const limit = Number(value);
    if (!Number.isInteger(limit) || limit < 0)
      throw new UsageError(`--licences ${name}=${value}: the limit is a whole number of licences, 0 or more`);
    limits[name] = limit;
  }
  return limits;
}
