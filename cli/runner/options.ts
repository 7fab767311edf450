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
