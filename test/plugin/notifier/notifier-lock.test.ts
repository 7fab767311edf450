import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LockInfo } from "../../../plugin/notifier/notifier-lock.ts";
import { LOCK_FILE, LockInfoSchema, NotifierLock } from "../../../plugin/notifier/notifier-lock.ts";

const NOW = Date.parse("2026-02-10T18:00:00Z");
const STALE_AFTER = 30_000;
/** A pid no process has (above Linux's pid_max), for "its process is gone". */
const DEAD_PID = 2 ** 22 + 17;

function holder(overrides: Partial<LockInfo> = {}): LockInfo {
  const at = new Date(NOW - 1_000).toISOString();
  return {
    owner: "other-owner",
    pid: process.pid,
    hostname: hostname(),
    started_at: at,
    refreshed_at: at,
    ...overrides,
  };
}

describe("notifier lock", () => {
  let dir: string;
  let now: number;
  const lockAs = (owner: string) =>
    new NotifierLock(dir, { owner, now: () => now, staleAfterMs: STALE_AFTER });
  const onDisk = async () => LockInfoSchema.parse(JSON.parse(await readFile(join(dir, LOCK_FILE), "utf8")));
  const place = (content: LockInfo | string) =>
    writeFile(join(dir, LOCK_FILE), typeof content === "string" ? content : JSON.stringify(content));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "atomizer-notifier-lock-"));
    now = NOW;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("acquires a free lock and writes who holds it", async () => {
    expect(await lockAs("me").acquire()).toEqual({ acquired: true });
    expect(await onDisk()).toMatchObject({ owner: "me", pid: process.pid, hostname: hostname() });
    expect(await lockAs("me").holds()).toBe(true);
  });

  it.each<{ why: string; existing: LockInfo | string; acquired: boolean; tookOver?: RegExp }>([
    { why: "held and fresh", existing: holder(), acquired: false },
    {
      why: "held on another host by a pid this host lacks",
      existing: holder({ hostname: "nx-elsewhere", pid: DEAD_PID }),
      acquired: false,
    },
    { why: "held by this owner already", existing: holder({ owner: "me" }), acquired: true },
    {
      why: "not refreshed for longer than the stale time",
      existing: holder({ refreshed_at: new Date(NOW - STALE_AFTER - 1_000).toISOString() }),
      acquired: true,
      tookOver: /not refreshed for 31 s/,
    },
    {
      why: "its process on this host is gone",
      existing: holder({ pid: DEAD_PID }),
      acquired: true,
      tookOver: new RegExp(`pid ${DEAD_PID} on .*: its process ${DEAD_PID} is gone`),
    },
    {
      why: "garbled (a crash between create and write)",
      existing: "{",
      acquired: true,
      tookOver: /unreadable/,
    },
    {
      why: "a bad refreshed_at",
      existing: holder({ refreshed_at: "never" }),
      acquired: true,
      tookOver: /not refreshed/,
    },
  ])("a lock $why: acquired $acquired", async ({ existing, acquired, tookOver }) => {
    await place(existing);
    const attempt = await lockAs("me").acquire();
    expect(attempt.acquired).toBe(acquired);
    if (!attempt.acquired) {
      expect(attempt.holder).toEqual(existing);
      expect(await lockAs("me").holds()).toBe(false);
      return;
    }
    expect(attempt.tookOver === undefined ? undefined : attempt.tookOver).toEqual(
      tookOver ? expect.stringMatching(tookOver) : undefined,
    );
    expect((await onDisk()).owner).toBe("me");
    // The old lock file is not left lying around.
    expect(await readdir(dir)).toEqual([LOCK_FILE]);
  });

  it("lets exactly one of two engines take a free lock at once", async () => {
    const attempts = await Promise.all([lockAs("a").acquire(), lockAs("b").acquire()]);
    expect(attempts.filter((a) => a.acquired)).toHaveLength(1);
  });

  it("lets exactly one of two engines take over an abandoned lock at once", async () => {
    await place(holder({ pid: DEAD_PID }));
    const attempts = await Promise.all([lockAs("a").acquire(), lockAs("b").acquire()]);
    expect(attempts.filter((a) => a.acquired)).toHaveLength(1);
    expect(["a", "b"]).toContain((await onDisk()).owner);
  });

  it("refreshes its own lock, keeping it fresh past the stale time", async () => {
    const mine = lockAs("me");
    await mine.acquire();
    const started = (await onDisk()).started_at;
    now += STALE_AFTER - 1_000;
    expect(await mine.refresh()).toBe(true);
    expect(await onDisk()).toMatchObject({ started_at: started, refreshed_at: new Date(now).toISOString() });
    now += STALE_AFTER - 1_000;
    expect((await lockAs("other").acquire()).acquired).toBe(false);
  });

  it.each([
    {
      why: "taken over by another engine",
      after: (other: NotifierLock) => other.acquire().then(() => undefined),
    },
    { why: "removed", after: () => rm(join(dir, LOCK_FILE)) },
  ])("knows it lost the lock once $why: refresh and holds say so", async ({ after }) => {
    const mine = lockAs("me");
    await mine.acquire();
    // It stalled past the stale time: the other engine may take over.
    now += STALE_AFTER + 1_000;
    await after(lockAs("other"));
    expect(await mine.holds()).toBe(false);
    expect(await mine.refresh()).toBe(false);
  });

  it("releases only its own lock", async () => {
    await lockAs("other").acquire();
    await lockAs("me").release();
    expect((await onDisk()).owner).toBe("other");
    await lockAs("other").release();
    expect(await readdir(dir)).toEqual([]);
    await lockAs("me").release();
  });
});
