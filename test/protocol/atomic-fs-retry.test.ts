// withFsRetry: which fs errors are retried (the Windows EBUSY/EPERM/EACCES of a scanner or Syncthing),
// how often, and which go through at once.
import { describe, expect, it } from "vitest";
import { withFsRetry } from "../../protocol/atomic-fs.ts";
import { errnoCode } from "../../protocol/errors.ts";

function fsError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: fake failure`), { code });
}

/** An operation that fails with `code` the first `failures` times, then returns "done". */
function flaky(code: string, failures: number): { operation: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    operation: async () => {
      calls++;
      if (calls <= failures) throw fsError(code);
      return "done";
    },
    calls: () => calls,
  };
}

describe("withFsRetry", () => {
  it.each(["EBUSY", "EPERM", "EACCES"])("retries %s and then succeeds", async (code) => {
    const op = flaky(code, 3);
    await expect(withFsRetry(op.operation, { retries: 3, baseDelayMs: 1 })).resolves.toBe("done");
    expect(op.calls()).toBe(4);
  });

  it.each(["EBUSY", "EPERM"])("gives up on %s after the retry limit with the last error", async (code) => {
    const op = flaky(code, Number.POSITIVE_INFINITY);
    await expect(withFsRetry(op.operation, { retries: 2, baseDelayMs: 1 })).rejects.toSatisfy(
      (error: unknown) => errnoCode(error) === code,
    );
    expect(op.calls()).toBe(3);
  });

  it.each(["ENOENT", "EEXIST", "ENOTDIR", "EXDEV"])("does not retry %s", async (code) => {
    const op = flaky(code, 1);
    await expect(withFsRetry(op.operation, { retries: 5, baseDelayMs: 1 })).rejects.toSatisfy(
      (error: unknown) => errnoCode(error) === code,
    );
    expect(op.calls()).toBe(1);
  });

  it("does not retry an error without a code", async () => {
    let calls = 0;
    const operation = async () => {
      calls++;
      throw new Error("logic error");
    };
    await expect(withFsRetry(operation, { baseDelayMs: 1 })).rejects.toThrow("logic error");
    expect(calls).toBe(1);
  });

  it("retries six times by default", async () => {
    const op = flaky("EBUSY", 6);
    await expect(withFsRetry(op.operation, { baseDelayMs: 1 })).resolves.toBe("done");
    expect(op.calls()).toBe(7);
  });
});
