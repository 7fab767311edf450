// How Optuna encodes what it stores: parameters as floats, times as naive local strings.

/**
 * A parameter as the study saw it. Optuna stores every value as a float: a categorical as the index
 * into its distribution's choices (a choice may itself be null: Optuna allows None), an integer
 * parameter as a float that may carry rounding noise. An index out of range, or a distribution that
 * does not parse, leaves the raw number rather than a guess.
 */
export function decodeParam(value: number, distributionJson: string): unknown {
  try {
    const distribution = JSON.parse(distributionJson) as {
      name?: unknown;
      attributes?: { choices?: unknown };
    };
    const name = typeof distribution.name === "string" ? distribution.name : "";
    if (name === "CategoricalDistribution") {
      const choices = distribution.attributes?.choices;
      return Array.isArray(choices) && Number.isInteger(value) && value >= 0 && value < choices.length
        ? choices[value]
        : value;
    }
    // IntDistribution, and Optuna 2's IntUniformDistribution and IntLogUniformDistribution.
    if (
      name === "IntDistribution" ||
      name === "IntUniformDistribution" ||
      name === "IntLogUniformDistribution"
    ) {
      return Math.round(value);
    }
  } catch {
    // an unreadable distribution: report the raw number
  }
  return value;
}

/** Optuna stores naive local times ("2026-02-10 14:30:22.123456"): read as local time of this host. */
export function optunaTimeToIso(value: unknown): string | null {
  if (typeof value !== "string" || value.length === 0) return null;
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d{1,3})?/.exec(value);
  if (!match) return null;
  const date = new Date(`${match[1]}T${match[2]}${match[3] ?? ""}`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
