import { execFileSync } from "node:child_process";

/**
 * A python3 that imports `modules`: $ATOMIZER_PYTHON, else `python3` on PATH, else Debian's
 * /usr/bin/python3 (a pyenv python3 often comes first on PATH without Debian's python3-optuna).
 * The benchmarks and the tests (test/helpers/python.ts) share this search.
 */
export function findPythonWith(modules: readonly string[]): string | undefined {
  const candidates = [process.env.ATOMIZER_PYTHON, "python3", "/usr/bin/python3"].filter(
    (c): c is string => typeof c === "string" && c.length > 0,
  );
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ["-c", `import ${modules.join(", ")}`], { stdio: "ignore", timeout: 30_000 });
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** What the benchmarks need: Optuna (they draw no plots). */
export function findOptunaPython(): string | undefined {
  return findPythonWith(["optuna"]);
}
