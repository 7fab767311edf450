import { spawn } from "node:child_process";
import { expect, test } from "vitest";
import { identify, liveness, processStart } from "../../protocol/process-identity.ts";

test("this process has a start token, and it is stable", async () => {
  const first = await processStart(process.pid);
  expect(first).toMatch(/^linux:[0-9a-f-]*:\d+$/);
  expect(await processStart(process.pid)).toBe(first);
  expect(await liveness({ pid: process.pid, start: first })).toBe("alive");
});

test.each([
  { name: "a pid reused by another process (start differs)", start: "linux:boot:1", want: "gone" },
  { name: "a pid whose start was never read", start: null, want: "unknown" },
])("liveness of $name: $want", async ({ start, want }) => {
  expect(await liveness({ pid: process.pid, start })).toBe(want);
});

test("a process that exited is gone, whatever its record says", async () => {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 200)"]);
  const pid = child.pid ?? 0;
  const identity = await identify(pid);
  expect(identity.start).not.toBeNull();
  expect(await liveness(identity)).toBe("alive");
  await new Promise((resolve) => child.once("exit", resolve));
  expect(await liveness(identity)).toBe("gone");
  expect(await processStart(pid)).toBeNull();
});

test("Windows start tokens from PowerShell, the helper, wmic and older runners compare equal", async () => {
  const { filetimeToIso, normalizeWindowsStart, sameStart, wmicToIso } = await import(
    "../../protocol/process-identity.ts"
  );
  // 2024-01-01T11:00:00.1234567Z as FILETIME ticks.
  expect(filetimeToIso("133485804001234567")).toBe("2024-01-01T11:00:00.123456Z");
  expect(wmicToIso("20240101120000.123456+060")).toBe("2024-01-01T11:00:00.123456Z");
  expect(normalizeWindowsStart("win32:2024-01-01T11:00:00.1234567Z")).toBe(
    "win32:2024-01-01T11:00:00.123456Z",
  );
  expect(sameStart("win32:2024-01-01T11:00:00.1234567Z", "win32:20240101120000.123456+060")).toBe(true);
  expect(sameStart("win32:2024-01-01T11:00:00.123456Z", "win32:2024-01-01T11:00:00.123457Z")).toBe(false);
  expect(filetimeToIso("")).toBeNull();
});
