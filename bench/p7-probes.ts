import { randomBytes } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { mkdir, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../protocol/index.ts";

/** Resolves when `name` exists in a watched folder; rejects after the timeout. */
export interface Sightings {
  seen(name: string, timeoutMs: number): Promise<bigint>;
  close(): void;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (stats) => stats.isFile(),
    () => false,
  );
}

/**
 * Records when each name first exists as a file in `dir`, from a raw fs.watch (the fastest notice
 * Node gets), so the baseline pays nothing for chokidar or the runner.
 */
export function watchSightings(dir: string, onSeen: (name: string) => void = () => {}): Sightings {
  const times = new Map<string, bigint>();
  const waiters = new Map<string, (at: bigint) => void>();
  const look = async (name: string) => {
    if (times.has(name) || !(await isFile(join(dir, name))) || times.has(name)) return;
    const at = process.hrtime.bigint();
    times.set(name, at);
    waiters.get(name)?.(at);
    onSeen(name);
  };
  const watcher: FSWatcher = watch(dir, (_event, name) => {
    if (typeof name === "string" && name.startsWith(".p7-")) void look(name);
  });
  return {
    seen(name, timeoutMs) {
      const known = times.get(name);
      if (known !== undefined) return Promise.resolve(known);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`P7: ${name} did not arrive within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.set(name, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
        void look(name);
      });
    },
    close: () => watcher.close(),
  };
}

/**
 * Syncthing's own round trip through the queue's folders: a file into side A's outbox/, and as soon as
 * side B sees it, a small file into B's inbox/ that travels back. Dot names, which the runner and the
 * job index leave alone.
 */
export class ProbeTrip {
  readonly #outboxA: string;
  readonly #staging: string;
  readonly #replies: Sightings;
  readonly #arrivals: Sightings;

  constructor(
    queueA: { outbox: string; inbox: string },
    queueB: { outbox: string; inbox: string },
    staging: string,
  ) {
    this.#outboxA = queueA.outbox;
    this.#staging = staging;
    this.#replies = watchSightings(queueA.inbox);
    this.#arrivals = watchSightings(queueB.outbox, (name) => {
      const reply = name.replace(/^\.p7-probe-/, ".p7-reply-");
      void writeFileAtomic(join(queueB.inbox, reply), `${name}\n`);
    });
  }

  /** Milliseconds from the rename into A's outbox to the reply being seen in A's inbox. */
  async run(name: string, bytes: number, timeoutMs: number): Promise<number> {
    await mkdir(this.#staging, { recursive: true });
    const staged = join(this.#staging, name);
    // Fresh random content, so Syncthing cannot copy blocks it already holds from an earlier file.
    await writeFile(staged, bytes > 0 ? randomBytes(bytes) : `${name}\n`);
    const sent = process.hrtime.bigint();
    await rename(staged, join(this.#outboxA, `.p7-probe-${name}`));
    const back = await this.#replies.seen(`.p7-reply-${name}`, timeoutMs);
    return Number(back - sent) / 1e6;
  }

  close(): void {
    this.#replies.close();
    this.#arrivals.close();
  }
}

/**
 * When the last of a job's files (job.json and every manifest entry) exists under its own name in
 * side B's outbox/<id>/, seen by a raw recursive fs.watch: the moment a runner could start the job.
 * Each event re-checks every file still missing, so an event lost to a just-created subfolder's watch
 * is made up for by the next one.
 */
export class Landings {
  readonly #outbox: string;
  readonly #watcher: FSWatcher;
  readonly #missing = new Map<string, Set<string>>();
  readonly #landed = new Map<string, bigint>();

  constructor(outbox: string) {
    this.#outbox = outbox;
    this.#watcher = watch(outbox, { recursive: true }, (_event, name) => {
      const jobId = typeof name === "string" ? name.split(/[\\/]/)[0] : undefined;
      if (jobId !== undefined && this.#missing.has(jobId)) void this.#look(jobId);
    });
  }

  /** Starts following a job before it is published; `paths` are job-relative POSIX paths. */
  expect(jobId: string, paths: readonly string[]): void {
    this.#missing.set(jobId, new Set(paths));
  }

  landedAt(jobId: string): bigint | undefined {
    return this.#landed.get(jobId);
  }

  async #look(jobId: string): Promise<void> {
    const missing = this.#missing.get(jobId);
    if (!missing) return;
    for (const path of [...missing]) {
      if (await isFile(join(this.#outbox, jobId, ...path.split("/")))) missing.delete(path);
    }
    if (missing.size === 0 && this.#missing.delete(jobId)) this.#landed.set(jobId, process.hrtime.bigint());
  }

  close(): void {
    this.#watcher.close();
  }
}
