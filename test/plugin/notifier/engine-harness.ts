// A NotifierEngine over a real temp queue with recording ports, plus a clock tests can step.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "vitest";
import { readLedgerStore } from "../../../plugin/notifier/ledger-store-open.ts";
import type { ChannelTarget } from "../../../plugin/notifier/notifier-config.ts";
import type { Clock, NotifierOptions, WakeRequest } from "../../../plugin/notifier/notifier-engine.ts";
import { NotifierEngine } from "../../../plugin/notifier/notifier-engine.ts";
import type { Ledger } from "../../../plugin/notifier/notifier-ledger.ts";
import { LedgerSchema } from "../../../plugin/notifier/notifier-ledger.ts";
import { initQueue, queuePaths } from "../../../protocol/index.ts";
import { CHANNEL } from "./queue-fixture.ts";

export interface Recorded {
  sends: { target: ChannelTarget; text: string }[];
  events: { text: string; options: { agentId: string; sessionKey: string; contextKey: string } }[];
  wakes: WakeRequest[];
  logs: { level: "info" | "warn" | "error"; message: string }[];
}

/** Timers fire only when the test advances time. */
export class ManualClock implements Clock {
  #now: number;
  #timers = new Map<number, { at: number; run: () => void }>();
  #next = 1;

  constructor(start = Date.parse("2026-02-10T18:00:00Z")) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(run: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), run });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward, firing due timers in order (timers they set are fired too when due). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = [...this.#timers.entries()]
        .filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].run();
    }
    this.#now = end;
  }
}

export const TARGET: ChannelTarget = { channel: "telegram", to: "12345" };

export async function tempQueue(): Promise<{ queueDir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "atomizer-notifier-"));
  const queueDir = join(root, "queue");
  await initQueue(queueDir);
  return { queueDir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/**
 * The engine tests' test(): each test gets a fresh temp queue (`queueDir`) and `track`, which stops the
 * engine it is given when the test ends, before the queue is removed.
 */
export const engineTest = test
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
  .extend("queueDir", async ({}, { onCleanup }) => {
    const { queueDir, cleanup } = await tempQueue();
    onCleanup(cleanup);
    return queueDir;
  })
  .extend("track", async ({ queueDir }, { onCleanup }) => {
    // Depends on queueDir only so that vitest stops the engines before it removes the queue.
    void queueDir;
    const engines: NotifierEngine[] = [];
    onCleanup(async () => {
      for (const engine of engines.splice(0)) await engine.stop();
    });
    return <T extends { engine: NotifierEngine }>(h: T): T => {
      engines.push(h.engine);
      return h;
    };
  });

export interface Harness {
  engine: NotifierEngine;
  calls: Recorded;
  /** How many upcoming sends throw. */
  failSends: { count: number };
}

/** `queueDir` undefined: the options name the queue (`nats`). */
export function makeEngine(
  queueDir: string | undefined,
  options: Partial<NotifierOptions> = {},
  clock?: Clock,
): Harness {
  const calls: Recorded = { sends: [], events: [], wakes: [], logs: [] };
  const failSends = { count: 0 };
  const engine = new NotifierEngine(
    {
      ...(queueDir !== undefined ? { queueDir } : {}),
      agentId: "optimizer",
      sessionKey: "agent:optimizer:main",
      channels: { [CHANNEL]: TARGET },
      resendAfterMs: 600_000,
      batchWindowMs: 150,
      sendRetryDelaysMs: [20, 20],
      rescanMs: 60_000,
      lockRefreshMs: 10_000,
      settleMs: 50,
      wakeLimits: { minSpacingMs: 0, maxPerWindow: 1000, windowMs: 60_000 },
      ...options,
    },
    {
      async sendText(target, text) {
        calls.sends.push({ target, text });
        if (failSends.count > 0) {
          failSends.count--;
          throw new Error("telegram answered 502 Bad Gateway");
        }
        return { messageId: String(calls.sends.length) };
      },
      enqueueSystemEvent(text, opts) {
        calls.events.push({ text, options: opts });
        return true;
      },
      requestHeartbeat(request) {
        calls.wakes.push(request);
      },
      log: {
        info: (message) => calls.logs.push({ level: "info", message }),
        warn: (message) => calls.logs.push({ level: "warn", message }),
        error: (message) => calls.logs.push({ level: "error", message }),
      },
      ...(clock ? { clock } : {}),
    },
  );
  return { engine, calls, failSends };
}

/** The whole ledger (every row of ledger.sqlite), each entry checked by the ledger's schema. */
export async function readLedger(queueDir: string): Promise<Ledger> {
  return LedgerSchema.parse(readLedgerStore(join(queuePaths(queueDir).stateDir, "notifier")));
}

/** Polls `check` until it holds; fails with `what` after a generous bound. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) {
      throw new Error(
        `timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
