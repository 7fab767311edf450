import { readdir, readFile } from "node:fs/promises";
import { uptime } from "node:os";
import path from "node:path";
import type { RunnerHeartbeat } from "../protocol/index.ts";
import { isProcessAlive, RunnerHeartbeatSchema } from "../protocol/index.ts";
import type { Logger } from "./log.ts";

/** Another runner whose heartbeat says it is live on this queue. */
export interface OtherRunner {
  host: string;
  pid?: number;
  last_seen: string;
  started_at: string;
  /** Same host name as this runner: both would write one heartbeat file. */
  sameHost: boolean;
}

// A heartbeat from another machine travels through Syncthing (seconds to half a minute in the field).
const SYNC_SLACK_S = 60;

function looksLive(beat: RunnerHeartbeat, nowMs: number): boolean {
  if (beat.stopped_at !== undefined) return false;
  const seenMs = Date.parse(beat.last_seen);
  // Written before this machine booted: that runner died with the machine.
  if (seenMs < nowMs - uptime() * 1000) return false;
  return nowMs - seenMs <= (3 * beat.interval_s + SYNC_SLACK_S) * 1000;
}

/**
 * The runners other than this one that look live on the queue, from inbox/.runners/. The same host
 * name counts only while its pid runs here (a crashed predecessor of this runner is not another).
 */
export async function liveOtherRunners(
  runnersDir: string,
  self: { host: string; pid: number },
  nowMs: number,
): Promise<OtherRunner[]> {
  const names = await readdir(runnersDir).catch(() => [] as string[]);
  const others: OtherRunner[] = [];
  for (const name of names) {
    if (!name.endsWith(".json")) continue;
    const text = await readFile(path.join(runnersDir, name), "utf8").catch(() => undefined);
    if (text === undefined) continue;
    let beat: RunnerHeartbeat;
    try {
      beat = RunnerHeartbeatSchema.parse(JSON.parse(text));
    } catch {
      continue;
    }
    if (!looksLive(beat, nowMs)) continue;
    const sameHost = beat.host === self.host;
    if (sameHost && (beat.pid === self.pid || beat.pid === undefined || !(await isProcessAlive(beat.pid))))
      continue;
    others.push({
      host: beat.host,
      ...(beat.pid ? { pid: beat.pid } : {}),
      last_seen: beat.last_seen,
      started_at: beat.started_at,
      sameHost,
    });
  }
  return others;
}

/**
 * Whether `other` goes first: the runner that started earlier keeps taking jobs and a later one pauses,
 * so two runners never both stop (nor both go on) once each has seen the other's heartbeat.
 */
export function goesFirst(other: OtherRunner, self: { host: string; startedAt: string }): boolean {
  if (other.started_at !== self.startedAt) return other.started_at < self.startedAt;
  return other.host < self.host;
}

/** One line for the log and for waiting jobs, naming the other runners and what to do. */
export function describeOthers(others: readonly OtherRunner[]): string {
  const who = others
    .map((o) => `${o.host}${o.pid ? ` (pid ${o.pid})` : ""}, last seen ${o.last_seen}`)
    .join("; ");
  return (
    `another runner is live on this queue: ${who}. Two runners on one queue could both run a job, so the ` +
    "one started later takes no new jobs while both run (stop one of them; --allow-other-runners overrides, at that risk)"
  );
}

/**
 * Two runners on one queue could both take a job: while another live runner started first, this one
 * takes none. Holds what it last saw, so each change is logged once.
 */
export function createOtherRunnerGuard(options: {
  runnersDir: string;
  host: string;
  allow: boolean;
  log: Logger;
}): { check(startedAt: Date, startingUp: boolean): Promise<void>; blocked(): string | undefined } {
  let blocked: string | undefined;
  let seen = 0;
  return {
    blocked: () => blocked,
    async check(startedAt, startingUp) {
      if (options.allow) return;
      const others = await liveOtherRunners(
        options.runnersDir,
        { host: options.host, pid: process.pid },
        Date.now(),
      );
      const self = { host: options.host, startedAt: startedAt.toISOString() };
      const ahead = others.filter((other) => other.sameHost || goesFirst(other, self));
      if (others.length > 0 && others.length !== seen)
        options.log("ANOTHER RUNNER", undefined, describeOthers(others));
      seen = others.length;
      const reason = ahead.length > 0 ? describeOthers(ahead) : undefined;
      if (reason !== undefined && others.some((o) => o.sameHost) && startingUp) {
        throw new Error(
          `another runner named ${options.host} is live on this queue (${describeOthers(others)}); give this one another --host or stop that one`,
        );
      }
      if (reason !== blocked) {
        if (reason) options.log("NOT TAKING JOBS", undefined, reason);
        else if (blocked)
          options.log("taking jobs again", undefined, "no other runner is live on this queue");
        blocked = reason;
      }
    },
  };
}
