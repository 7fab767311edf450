// The mirror lock: one holder per mirror, a live holder is never pushed aside (whoever it is), and a
// lock left by a process that is gone (or an unreadable one left long ago) is taken over.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { identify } from "../../../protocol/process-identity.ts";
import { MIRROR_LOCK_FILE, tryMirrorLock } from "../../../submitter/catalog/nats-mirror-lock.ts";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomizer-mirror-lock-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A process that ran and exited: its pid and start time identify nothing alive. */
async function deadIdentity(): Promise<{ pid: number; start: string | null }> {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 10000)"], { stdio: "ignore" });
  const identity = await identify(child.pid as number);
  child.kill("SIGKILL");
  await once(child, "exit");
  return identity;
}

describe("tryMirrorLock", () => {
  test("the first attempt holds it; a second sees this process as the holder until released", async () => {
    const first = await tryMirrorLock(dir);
    expect(first.held).toBe(true);
    const second = await tryMirrorLock(dir);
    expect(second).toMatchObject({ held: false, holder: { pid: process.pid } });
    if (first.held) await first.release();
    const third = await tryMirrorLock(dir);
    expect(third.held).toBe(true);
    if (third.held) await third.release();
  });

  test("a live holder in another process keeps it", async () => {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" });
    try {
      const holder = await identify(child.pid as number);
      await writeFile(join(dir, MIRROR_LOCK_FILE), `${JSON.stringify({ ...holder, taken_at: "x" })}\n`);
      const attempt = await tryMirrorLock(dir);
      expect(attempt).toMatchObject({ held: false, holder: { pid: child.pid } });
    } finally {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  });

  test("a lock whose holder is gone is taken over, and says whose it was", async () => {
    const dead = await deadIdentity();
    await writeFile(join(dir, MIRROR_LOCK_FILE), `${JSON.stringify({ ...dead, taken_at: "then" })}\n`);
    const attempt = await tryMirrorLock(dir);
    expect(attempt).toMatchObject({ held: true, tookOver: { pid: dead.pid } });
    const now = JSON.parse(await readFile(join(dir, MIRROR_LOCK_FILE), "utf8"));
    expect(now.pid).toBe(process.pid);
    if (attempt.held) await attempt.release();
  });

  test.each([
    ["fresh", 0, false],
    ["a minute old", 60, true],
  ])("an unreadable lock file %s is taken over: %s", async (_age, ageS, taken) => {
    const path = join(dir, MIRROR_LOCK_FILE);
    await writeFile(path, "");
    const at = new Date(Date.now() - ageS * 1000);
    await utimes(path, at, at);
    const attempt = await tryMirrorLock(dir);
    expect(attempt.held).toBe(taken);
    if (attempt.held) await attempt.release();
  });
});
