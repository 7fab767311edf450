import { execFileSync } from "node:child_process";

/**
 * A python3 that can import optuna: $ATOMIZER_PYTHON, else `python3` on PATH, else Debian's
 * /usr/bin/python3 (a pyenv python3 often comes first on PATH without Debian's python3-optuna).
 * Same search as test/helpers/python.ts; copied because the benchmarks never import test code.
 */
export function findOptunaPython(): string | undefined {
  const candidates = [process.env.ATOMIZER_PYTHON, "python3", "/usr/bin/python3"].filter(
    (c): c is string => typeof c === "string" && c.length > 0,
  );
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ["-c", "import optuna"], { stdio: "ignore", timeout: 30_000 });
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
}
