import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DirStamp } from "../protocol/index.ts";
import { dirStamp, errnoCode, queuePaths, SCHEMA_VERSION, sameStamp } from "../protocol/index.ts";
import type { QueueMix } from "./generate-queue.ts";
import { generateQueue } from "./generate-queue.ts";

export interface QueueSpec {
  count: number;
  mix: QueueMix;
}

export interface CachedQueue extends QueueSpec {
  /** The queue root (outbox/, inbox/, archive/). */
  root: string;
  /** The runner's ledger written with an "idle" queue: copy it into the runner's own state folder. */
  ledger?: string;
  /** Milliseconds it took to write (in this run, or in the earlier run that wrote it). */
  writtenMs: number;
  /** Written by an earlier run (or another run at the same time) and reused. */
  reused: boolean;
  /** When it was written (ms since the epoch): a folder stamp younger than 3 s is not trusted by an index. */
  madeAt: number;
}

export interface LeasedQueue extends CachedQueue {
  /**
   * Puts the queue back into the cache if it is as it was leased once the given names are removed from
   * inbox/.runners/ (the heartbeat the benchmark's runner wrote); otherwise removes it. Says what happened.
   */
  giveBack(runnerNames: readonly string[]): Promise<string>;
}

export interface QueueCache {
  dir: string;
  /** A queue that nobody may change: one copy serves every benchmark of the run, and later runs. */
  shared(spec: QueueSpec): Promise<CachedQueue>;
  /** A queue for one benchmark that writes to it (a runner's heartbeat): moved out of the cache, not copied. */
  lease(spec: QueueSpec): Promise<LeasedQueue>;
  /** Shared queues that changed since they were handed out (each is evicted): a benchmark wrote to one. */
  audit(): Promise<string[]>;
}

/**
 * Unused this long, an entry is removed; a partial one (a run killed while writing it) or a leased one
 * (killed while using it) after a day.
 */
const UNUSED_MS = 14 * 24 * 3600 * 1000;
const PARTIAL_MS = 24 * 3600 * 1000;
const MADE_FILE = "made.json";
const GENERATOR_FILES = ["generate-queue.ts", "queue-jobs.ts"];

export function defaultQueueCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "atomizer-job-queue", "bench-queues");
}

/** The generator's own source and the job schema version: a queue written by other code is never reused. */
function generatorHash(): string {
  const hash = createHash("sha256").update(`schema ${SCHEMA_VERSION}\n`);
  for (const name of GENERATOR_FILES)
    hash.update(readFileSync(fileURLToPath(new URL(name, import.meta.url))));
  return hash.digest("hex").slice(0, 16);
}

interface Fingerprint {
  stamps: (DirStamp | undefined)[];
  runners: string;
}

/** Stamps of the folders a process would write into, and the heartbeats present. */
async function fingerprint(root: string): Promise<Fingerprint> {
  const paths = queuePaths(root);
  const dirs = [root, paths.outbox, paths.inbox, paths.archive, paths.stateDir, paths.fetchedDir];
  const runners = (await readdir(paths.runnersDir).catch(() => [])).sort().join("\n");
  return { stamps: await Promise.all(dirs.map((dir) => dirStamp(dir))), runners };
}

function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return a.runners === b.runners && a.stamps.every((stamp, i) => sameStamp(stamp, b.stamps[i]));
}

interface Made extends QueueSpec {
  writtenMs: number;
  madeAt: number;
  withLedger: boolean;
}

function fromMade(entry: string, made: Made, writtenNow: boolean): CachedQueue {
  return {
    count: made.count,
    mix: made.mix,
    root: join(entry, "queue"),
    madeAt: made.madeAt,
    ...(made.withLedger ? { ledger: join(entry, "state", "ledger.jsonl") } : {}),
    writtenMs: made.writtenMs,
    reused: !writtenNow,
  };
}

/** The queue in `entry` (its use noted, for pruning), or undefined when there is none. */
async function readMade(entry: string): Promise<CachedQueue | undefined> {
  const file = join(entry, MADE_FILE);
  let made: Made;
  try {
    made = JSON.parse(await readFile(file, "utf8")) as Made;
  } catch (error) {
    if (errnoCode(error) === "ENOENT" || error instanceof SyntaxError) return undefined;
    throw error;
  }
  const now = new Date();
  await utimes(file, now, now);
  return fromMade(entry, made, false);
}

/** Writes a queue into `entry` (a fresh folder), timed. */
async function writeEntry(entry: string, spec: QueueSpec): Promise<Made> {
  const started = Date.now();
  const withLedger = spec.mix === "idle";
  await rm(entry, { recursive: true, force: true });
  await generateQueue(
    join(entry, "queue"),
    spec.count,
    spec.mix,
    withLedger ? join(entry, "state") : undefined,
  );
  const made: Made = { ...spec, writtenMs: Date.now() - started, madeAt: Date.now(), withLedger };
  await writeFile(join(entry, MADE_FILE), `${JSON.stringify(made, null, 2)}\n`);
  return made;
}

function unique(): string {
  return `${process.pid}-${randomBytes(4).toString("hex")}`;
}

async function prune(dir: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const partial = name.startsWith(".partial-") || name.startsWith(".leased-");
    const probe = partial ? path : join(path, MADE_FILE);
    const age = now - (await stat(probe).catch(() => ({ mtimeMs: 0 }))).mtimeMs;
    if (age > (partial ? PARTIAL_MS : UNUSED_MS)) await rm(path, { recursive: true, force: true });
  }
}

/**
 * Generated queues kept across runs in `dir`, one folder per mix, size and generator hash. A queue is
 * written into a partial folder and renamed into place, so a killed run never leaves a half-written one
 * behind a valid name, and two runs writing the same queue at once keep one.
 */
export async function openQueueCache(dir: string, log: (line: string) => void): Promise<QueueCache> {
  await mkdir(dir, { recursive: true });
  await prune(dir);
  const hash = generatorHash();
  const keyOf = (spec: QueueSpec) => `${spec.mix}-${spec.count}-${hash}`;
  const served = new Map<string, Promise<CachedQueue>>();
  const handedOut = new Map<string, Fingerprint>();

  async function obtain(spec: QueueSpec): Promise<CachedQueue> {
    const entry = join(dir, keyOf(spec));
    const existing = await readMade(entry);
    if (existing) return existing;
    log(`queue cache: writing ${spec.count} jobs (${spec.mix}) into ${entry}`);
    const partial = join(dir, `.partial-${keyOf(spec)}-${unique()}`);
    const made = await writeEntry(partial, spec);
    log(`queue cache: ${spec.count} jobs (${spec.mix}) written in ${(made.writtenMs / 1000).toFixed(1)} s`);
    try {
      await rename(partial, entry);
    } catch (error) {
      const code = errnoCode(error);
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
      // Another run wrote the same queue meanwhile: keep theirs.
      await rm(partial, { recursive: true, force: true });
      const theirs = await readMade(entry);
      if (!theirs) throw error;
      return theirs;
    }
    return fromMade(entry, made, true);
  }

  return {
    dir,
    shared(spec) {
      const key = keyOf(spec);
      let queue = served.get(key);
      if (!queue) {
        queue = obtain(spec).then(async (got) => {
          handedOut.set(key, await fingerprint(got.root));
          return got;
        });
        served.set(key, queue);
      }
      return queue;
    },
    async lease(spec) {
      const key = keyOf(spec);
      const entry = join(dir, key);
      // Beside the entry, not in the benchmark's scratch: a rename never crosses file systems.
      const leased = join(dir, `.leased-${key}-${unique()}`);
      let queue: CachedQueue | undefined;
      try {
        await rename(entry, leased);
        queue = await readMade(leased);
      } catch (error) {
        if (errnoCode(error) !== "ENOENT") throw error;
      }
      if (!queue) {
        log(`queue cache: writing ${spec.count} jobs (${spec.mix}) for one benchmark`);
        queue = fromMade(leased, await writeEntry(leased, spec), true);
        log(`queue cache: written in ${(queue.writtenMs / 1000).toFixed(1)} s`);
      }
      const root = queue.root;
      const before = await fingerprint(root);
      return {
        ...queue,
        async giveBack(runnerNames) {
          const runners = queuePaths(root).runnersDir;
          for (const name of runnerNames) await rm(join(runners, name), { force: true });
          let outcome = `the benchmark changed ${key}: removed, not kept for later runs`;
          if (sameFingerprint(before, await fingerprint(root))) {
            try {
              await rename(leased, entry);
              return `${key} put back into the queue cache`;
            } catch {
              outcome = `${key}: another run cached one meanwhile; this copy is removed`;
            }
          }
          await rm(leased, { recursive: true, force: true });
          return outcome;
        },
      };
    },
    async audit() {
      const changed: string[] = [];
      for (const [key, before] of handedOut) {
        const entry = join(dir, key);
        if (sameFingerprint(before, await fingerprint(join(entry, "queue")))) continue;
        changed.push(`${key} changed while shared (a benchmark wrote to it); removed from the cache`);
        handedOut.delete(key);
        served.delete(key);
        await rm(entry, { recursive: true, force: true });
      }
      return changed;
    },
  };
}
