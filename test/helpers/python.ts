import { findPythonWith } from "../../bench/python.ts";

/** A python3 that can import optuna and matplotlib (the example study draws its plot with it). */
export function findOptunaPython(): string | undefined {
  return findPythonWith(["optuna", "matplotlib"]);
}

/** Under CI=true a missing prerequisite fails the run instead of skipping quietly. */
export function requireUnderCi(present: boolean, what: string): boolean {
  if (!present && process.env.CI === "true") {
    throw new Error(`${what} is missing, and CI=true forbids skipping: .ci/run should have installed it`);
  }
  if (!present) console.warn(`skipping: ${what} is missing (install it to run these tests)`);
  return present;
}
