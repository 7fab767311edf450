import { execFileSync } from "node:child_process";

/**
 * A python3 that can import optuna: $ATOMIZER_PYTHON, else `python3` on PATH, else Debian's
 * /usr/bin/python3 (a pyenv python3 often comes first on PATH without Debian's python3-optuna).
 */
export function findOptunaPython(): string | undefined {
  const candidates = [process.env.ATOMIZER_PYTHON, "python3", "/usr/bin/python3"].filter(
    (c): c is string => typeof c === "string" && c.length > 0,
  );
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ["-c", "import optuna, matplotlib"], { stdio: "ignore", timeout: 30_000 });
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** Under CI=true a missing prerequisite fails the run instead of skipping quietly. */
export function requireUnderCi(present: boolean, what: string): boolean {
  if (!present && process.env.CI === "true") {
    throw new Error(`${what} is missing, and CI=true forbids skipping: .ci/run should have installed it`);
  }
  if (!present) console.warn(`skipping: ${what} is missing (install it to run these tests)`);
  return present;
}
