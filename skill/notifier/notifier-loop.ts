import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { FSWatcher } from "chokidar";
import { watch } from "chokidar";
import type { Job } from "../../protocol/index.ts";
import {
  ATOMIC_TEMP_PREFIX,
  errnoCode,
  isJobId,
  isSyncthingArtefact,
  JOB_FILE,
  LOG_FILE,
  parseArchiveDirName,
  parseJob,
  pathExists,
  queuePaths,
  readJsonFile,
} from "../../protocol/index.ts";
import { HANDOFF_MARKER, type HandoffItem, handoffText, MAX_HANDOFF_ITEMS } from "./handoff-text.ts";
import type { JobOutcome } from "./job-outcome.ts";
import { readJobOutcome } from "./job-outcome.ts";
import { JobWatches } from "./job-watches.ts";
import { readLastLines } from "./log-tail.ts";
import { bestText, channelMessage, errorText, logLinesFor, runTime, trialsText } from "./message-text.ts";
import type { ChannelTarget } from "./notifier-config.ts";
import { channelTarget } from "./notifier-config.ts";
import type { Ledger, LedgerEntry, Notified } from "./notifier-ledger.ts";
import { emptyLedger, loadLedger, notifierStateDir, saveLedger } from "./notifier-ledger.ts";
import { holdsLock, newLockOwner, refreshLock, releaseLock, tryAcquireLock } from "./notifier-lock.ts";
import type { WakeLimits } from "./wake-limits.ts";
import { DEFAULT_WAKE_LIMITS, nextWakeAt, pruneWakeHistory } from "./wake-limits.ts";

export interface NotifierLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Time, injectable so tests can step through the wake limits without waiting. */
export interface Clock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface WakeRequest {
  source: "hook";
  intent: "immediate";
  reason: string;
  agentId: string;
  sessionKey: string;
}

/** Everything the engine does to the outside world; OpenClaw in the gateway, recorders in tests. */
export interface NotifierPorts {
  /** Posts one message; throws when it did not go out. */
  sendText(target: ChannelTarget, text: string): Promise<{ messageId?: string }>;
  /** False when OpenClaw did not queue it (an identical event is still waiting). */
  enqueueSystemEvent(
    text: string,
    options: { agentId: string; sessionKey: string; contextKey: string },
  ): boolean;
  requestHeartbeat(request: WakeRequest): void;
  log: NotifierLog;
  clock?: Clock;
}

export interface NotifierOptions {
  queueDir: string;
  agentId: string;
  sessionKey: string;
  channels: Readonly<Record<string, ChannelTarget>>;
  resendAfterMs: number;
  /** Jobs that end within this window go out as one event. */
  batchWindowMs?: number;
  /** Waits between channel send attempts; attempts = length + 1. */
  sendRetryDelaysMs?: readonly number[];
  /** Safety-net rescan of every job, for events a watcher missed. */
  rescanMs?: number;
  /** Lock refresh period; a lock not refreshed for 3 periods is taken over. */
  lockRefreshMs?: number;
  /** On the very first start, jobs that ended longer ago than this get no channel message. */
  staleMessageAfterMs?: number;
  /** Quiet time after a file change in a job before it is read (Syncthing writes in bursts). */
  settleMs?: number;
  wakeLimits?: WakeLimits;
}

export const CONTEXT_KEY = "atomizer-job-queue:handoff";
export const WAKE_REASON = "hook:atomizer-job-queue";
/** Acknowledged entries whose inbox copy is gone are dropped after this long. */
const PRUNE_AFTER_MS = 30 * 24 * 3600_000;

type Acknowledgement = "receipt" | "archive" | undefined;

/** The job an archive/ folder holds, when its name is `<job_id>-<UTC stamp>`. */
function archivedJobId(name: string): string | undefined {
  const id = parseArchiveDirName(name)?.job_id;
  return id !== undefined && isJobId(id) ? id : undefined;
}

/**
 * Watches the submitting side's view of inbox/ and, when a job ends, posts its one channel message
 * and hands it to the post-processing agent (system event + immediate wake), batching jobs that end
 * together, re-sending a hand-off until the agent fetches the results. Bookkeeping lives in
 * `<queue>/.state/notifier/` (ledger.json + lock.json); only the lock holder acts.
 */
export class NotifierEngine {
  readonly #options: Required<Omit<NotifierOptions, "channels">> & {
    channels: Readonly<Record<string, ChannelTarget>>;
  };
  readonly #ports: NotifierPorts;
  readonly #clock: Clock;
  readonly #owner = newLockOwner();
  readonly #queue: ReturnType<typeof queuePaths>;
  readonly #dir: string;
  #active = false;
  #stopped = false;
  #ledger: Ledger | undefined;
  /** The ledger did not exist: this scan sorts history from new work. */
  #firstStart = false;
  #dirty = false;
  #chain: Promise<void> = Promise.resolve();
  #watchers: FSWatcher[] = [];
  /** Folders of jobs not yet in the ledger; decided jobs are not watched (receipts, archive/ and timers drive them). */
  #jobWatches: JobWatches | undefined;
  #batch = new Set<string>();
  #wakeHistory: number[] = [];
  #sending = new Set<string>();
  #checkTimers = new Map<string, unknown>();
  #flushTimer: unknown;
  #rescanTimer: unknown;
  #lockTimer: unknown;
  #sleepers = new Set<() => void>();
  #passiveLogged = false;
  #unreadableLogged = new Set<string>();

  constructor(options: NotifierOptions, ports: NotifierPorts) {
    // `??` per field: an option passed as undefined still gets its default.
    this.#options = {
      queueDir: options.queueDir,
      agentId: options.agentId,
      sessionKey: options.sessionKey,
      channels: options.channels,
      resendAfterMs: options.resendAfterMs,
      batchWindowMs: options.batchWindowMs ?? 2_000,
      sendRetryDelaysMs: options.sendRetryDelaysMs ?? [2_000, 10_000, 60_000],
      rescanMs: options.rescanMs ?? 60_000,
      lockRefreshMs: options.lockRefreshMs ?? 10_000,
      staleMessageAfterMs: options.staleMessageAfterMs ?? 3600_000,
      settleMs: options.settleMs ?? 500,
      wakeLimits: options.wakeLimits ?? DEFAULT_WAKE_LIMITS,
    };
    this.#ports = ports;
    this.#clock = ports.clock ?? SYSTEM_CLOCK;
    this.#queue = queuePaths(options.queueDir);
    this.#dir = notifierStateDir(this.#queue.stateDir);
  }

  get active(): boolean {
    return this.#active;
  }

  /** Takes the queue's notifier lock or stays passive (retrying), then watches. */
  async start(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await mkdir(this.#queue.fetchedDir, { recursive: true });
    await this.#tryActivate();
    this.#armLockTimer();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clearTimers();
    for (const wake of this.#sleepers) wake();
    await this.#deactivate();
    await releaseLock(this.#dir, this.#owner).catch(() => undefined);
  }

  /** Reads every job now (also what the periodic safety-net rescan does). */
  rescan(): Promise<void> {
    return this.#serial(() => this.#scanAll());
  }

  /** How many inbox/<id>/ folders are watched now: the jobs whose outcome is still open. */
  watchedJobCount(): number {
    return this.#jobWatches?.count ?? 0;
  }

  /** Resolves once everything queued so far (scans, checks, ledger writes) has run. */
  idle(): Promise<void> {
    return this.#chain;
  }

  #log(level: keyof NotifierLog, message: string): void {
    this.#ports.log[level](`atomizer-job-queue notifier: ${message}`);
  }

  #serial(task: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(() => (this.#active ? task() : undefined));
    this.#chain = run.catch((error: unknown) => {
      this.#log("error", `${(error as Error).message ?? String(error)}`);
    });
    return this.#chain;
  }

  #lockOptions() {
    return {
      owner: this.#owner,
      now: () => this.#clock.now(),
      staleAfterMs: 3 * this.#options.lockRefreshMs,
    };
  }

  async #tryActivate(): Promise<void> {
    if (this.#stopped || this.#active) return;
    const attempt = await tryAcquireLock(this.#dir, this.#lockOptions());
    if (!attempt.acquired) {
      if (!this.#passiveLogged) {
        this.#log(
          "info",
          `another notifier (pid ${attempt.holder.pid} on ${attempt.holder.hostname}, since ${attempt.holder.started_at}) acts for ${this.#options.queueDir}; this one stays passive and takes over if that one stops. Set notifier.enabled: false on all gateways but one for a tidy setup.`,
        );
        this.#passiveLogged = true;
      }
      return;
    }
    if (attempt.tookOver) this.#log("warn", `took over the notifier lock from ${attempt.tookOver}`);
    this.#passiveLogged = false;
    const loaded = await loadLedger(this.#dir, new Date(this.#clock.now()));
    if (loaded.kind === "corrupt") {
      this.#log(
        "error",
        `the ledger was unreadable (${loaded.reason}); it was kept as ${loaded.movedTo} and a new one started: jobs already fetched or archived are not announced again, others may be`,
      );
    }
    this.#ledger = loaded.kind === "found" ? loaded.ledger : emptyLedger(new Date(this.#clock.now()));
    this.#firstStart = loaded.kind !== "found";
    this.#active = true;
    this.#log(
      "info",
      `acting for ${this.#options.queueDir}: hand-offs go to agent "${this.#options.agentId}" (session ${this.#options.sessionKey}); ${Object.keys(this.#options.channels).length} channel mappings`,
    );
    await this.#startWatchers();
    await this.#serial(async () => {
      await this.#scanAll();
      this.#firstStart = false;
      this.#dirty = true;
      await this.#commit();
      // Queued events do not survive a gateway restart: every pending hand-off goes out again now.
      for (const entry of Object.values(this.#ledger?.jobs ?? {})) {
        if (entry.handoff.state === "pending") this.#batch.add(entry.job_id);
        if (entry.notified.state === "sending") {
          this.#log(
            "warn",
            `${entry.job_id}: its channel message was being sent when the notifier stopped; sending it again (it may arrive twice)`,
          );
          this.#startSend(entry.job_id);
        }
      }
      if (this.#batch.size > 0) this.#scheduleFlush();
    });
    this.#armRescan();
  }

  /** Stops acting: after the queued work on stop(), at once when the lock was lost (no more writes). */
  async #deactivate(lost = false): Promise<void> {
    const wasActive = this.#active && !lost;
    if (!lost) await this.#chain;
    this.#active = false;
    for (const timer of this.#checkTimers.values()) this.#clock.clearTimeout(timer);
    this.#checkTimers.clear();
    if (this.#flushTimer !== undefined) this.#clock.clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#rescanTimer !== undefined) this.#clock.clearTimeout(this.#rescanTimer);
    this.#rescanTimer = undefined;
    this.#batch.clear();
    const watchers = this.#watchers;
    this.#watchers = [];
    const jobWatches = this.#jobWatches;
    this.#jobWatches = undefined;
    await Promise.all([...watchers.map((watcher) => watcher.close()), jobWatches?.closeAll()]);
    if (wasActive && this.#dirty && this.#ledger) await saveLedger(this.#dir, this.#ledger);
    this.#dirty = false;
  }

  #clearTimers(): void {
    if (this.#lockTimer !== undefined) this.#clock.clearTimeout(this.#lockTimer);
    this.#lockTimer = undefined;
  }

  #armLockTimer(): void {
    if (this.#stopped) return;
    this.#lockTimer = this.#clock.setTimeout(() => {
      void this.#lockTick().finally(() => this.#armLockTimer());
    }, this.#options.lockRefreshMs);
  }

  async #lockTick(): Promise<void> {
    try {
      if (!this.#active) {
        await this.#tryActivate();
        return;
      }
      if (!(await refreshLock(this.#dir, this.#lockOptions()))) await this.#lostLock();
    } catch (error) {
      this.#log("error", `lock refresh failed: ${(error as Error).message}`);
    }
  }

  async #lostLock(): Promise<void> {
    if (!this.#active) return;
    this.#log("error", "lost the notifier lock to another process (this one stalled); going passive");
    this.#active = false;
    // Not awaiting the queued work: this may run inside it, and nothing queued runs once inactive.
    await this.#deactivate(true);
  }

  #armRescan(): void {
    if (!this.#active || this.#stopped) return;
    this.#rescanTimer = this.#clock.setTimeout(() => {
      this.#rescanTimer = undefined;
      void this.rescan().finally(() => this.#armRescan());
    }, this.#options.rescanMs);
  }

  async #startWatchers(): Promise<void> {
    const skip = (path: string) => {
      const name = path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
      return name.startsWith(ATOMIC_TEMP_PREFIX) || isSyncthingArtefact(name);
    };
    const jobs = new JobWatches(this.#queue.inbox, {
      ignored: skip,
      onChange: (id) => this.#scheduleCheck(id),
      onReady: (id) => this.#scheduleCheck(id),
      onError: (id, error) => this.#log("warn", `watcher for ${id}: ${error.message}`),
    });
    this.#jobWatches = jobs;
    // Only inbox/ itself: each job's folder is watched on its own, and only while its outcome is open.
    const inbox = watch(this.#queue.inbox, { depth: 0, ignoreInitial: true, ignored: skip });
    inbox.on("all", (event, path) => {
      const id = path.slice(this.#queue.inbox.length + 1);
      if (!isJobId(id)) return;
      // chokidar never watches a folder missing when asked, so a new job's folder is watched as it
      // appears; the check its watch triggers once live reads whatever landed before that.
      if (event === "addDir" && this.#active && !this.#ledger?.jobs[id]) jobs.watch(id);
      this.#scheduleCheck(id);
    });
    // chokidar never watches a folder that is missing when it starts; the server creates this one with
    // its first receipt, and it is the submitting side's own folder, so make sure it exists first.
    await mkdir(this.#queue.fetchedDir, { recursive: true });
    const fetched = watch(this.#queue.fetchedDir, { depth: 0, ignoreInitial: true, ignored: skip });
    fetched.on("all", (_event, path) => {
      const name = path.slice(this.#queue.fetchedDir.length + 1);
      if (name.endsWith(".json") && isJobId(name.slice(0, -5))) this.#scheduleCheck(name.slice(0, -5));
    });
    const archive = watch(this.#queue.archive, { depth: 0, ignoreInitial: true, ignored: skip });
    archive.on("addDir", (path) => {
      const id = archivedJobId(path.slice(this.#queue.archive.length + 1));
      if (id) this.#scheduleCheck(id);
    });
    this.#watchers = [inbox, fetched, archive];
    for (const watcher of this.#watchers) {
      watcher.on("error", (error) => this.#log("warn", `watcher: ${(error as Error).message}`));
    }
    await Promise.all(
      this.#watchers.map((watcher) => new Promise<void>((done) => watcher.once("ready", done))),
    );
  }

  #scheduleCheck(id: string): void {
    const previous = this.#checkTimers.get(id);
    if (previous !== undefined) this.#clock.clearTimeout(previous);
    this.#checkTimers.set(
      id,
      this.#clock.setTimeout(() => {
        this.#checkTimers.delete(id);
        void this.#serial(async () => {
          await this.#checkJob(id);
          await this.#commit();
        });
      }, this.#options.settleMs),
    );
  }

  async #commit(): Promise<void> {
    // Once the lock is lost the ledger belongs to the new holder.
    if (!this.#dirty || !this.#ledger || !this.#active) return;
    await saveLedger(this.#dir, this.#ledger);
    this.#dirty = false;
  }

  async #archivedIds(): Promise<Set<string>> {
    let names: string[];
    try {
      names = await readdir(this.#queue.archive);
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return new Set();
      throw error;
    }
    return new Set(names.map(archivedJobId).filter((id) => id !== undefined));
  }

  async #acknowledgement(id: string, archived?: ReadonlySet<string>): Promise<Acknowledgement> {
    if (await pathExists(join(this.#queue.fetchedDir, `${id}.json`))) return "receipt";
    if ((archived ?? (await this.#archivedIds())).has(id)) return "archive";
    return undefined;
  }

  async #scanAll(): Promise<void> {
    const ledger = this.#ledger;
    if (!ledger) return;
    let names: string[] = [];
    try {
      names = await readdir(this.#queue.inbox);
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") throw error;
      this.#log("warn", `${this.#queue.inbox} does not exist yet; waiting for it`);
    }
    const archived = await this.#archivedIds();
    const present = new Set(names.filter((name) => isJobId(name)));
    for (const id of present) await this.#checkJob(id, archived);
    for (const id of this.#jobWatches?.ids() ?? []) if (!present.has(id)) await this.#jobWatches?.unwatch(id);
    const now = this.#clock.now();
    for (const entry of Object.values(ledger.jobs)) {
      if (present.has(entry.job_id)) continue;
      if (entry.handoff.state === "pending") await this.#checkAck(entry, archived);
      else if (now - Date.parse(entry.handoff.at) > PRUNE_AFTER_MS) {
        delete ledger.jobs[entry.job_id];
        this.#dirty = true;
      }
    }
    this.#queueDueResends(now);
    await this.#commit();
  }

  #queueDueResends(now: number): void {
    let added = false;
    for (const entry of Object.values(this.#ledger?.jobs ?? {})) {
      if (entry.handoff.state !== "pending" || this.#batch.has(entry.job_id)) continue;
      const last = entry.handoff.sent_at.at(-1);
      if (last === undefined || now - Date.parse(last) >= this.#options.resendAfterMs) {
        this.#batch.add(entry.job_id);
        added = true;
      }
    }
    if (added) this.#scheduleFlush();
  }

  async #checkAck(entry: LedgerEntry, archived?: ReadonlySet<string>): Promise<void> {
    if (entry.handoff.state !== "pending") return;
    const by = await this.#acknowledgement(entry.job_id, archived);
    if (!by) return;
    entry.handoff = {
      state: "acknowledged",
      at: new Date(this.#clock.now()).toISOString(),
      by,
      sent_at: entry.handoff.sent_at,
    };
    this.#batch.delete(entry.job_id);
    this.#dirty = true;
    this.#log(
      "info",
      `${entry.job_id}: hand-off acknowledged (${by === "receipt" ? "results fetched" : "job archived"})`,
    );
  }

  async #checkJob(id: string, archived?: ReadonlySet<string>): Promise<void> {
    const outcome = await this.#recordJob(id, archived);
    await this.#updateJobWatch(id, outcome);
  }

  /** Watches a job's folder while its outcome is open (and its result folders while they sync); not after. */
  async #updateJobWatch(id: string, outcome: JobOutcome | undefined): Promise<void> {
    const jobs = this.#jobWatches;
    if (!jobs) return;
    if (!this.#active || !this.#ledger || this.#ledger.jobs[id]) {
      await jobs.unwatch(id);
      return;
    }
    if (outcome?.kind === "absent" && !(await pathExists(join(this.#queue.inbox, id)))) {
      await jobs.unwatch(id);
      return;
    }
    jobs.watch(id);
    if (outcome?.kind === "syncing" && (await jobs.watchResultDirs(id, outcome.job.results?.files ?? []))) {
      this.#scheduleCheck(id);
    }
  }

  /** Records a job in the ledger once its outcome is decided; the outcome read, or undefined when already known. */
  async #recordJob(id: string, archived?: ReadonlySet<string>): Promise<JobOutcome | undefined> {
    const ledger = this.#ledger;
    if (!ledger) return undefined;
    const known = ledger.jobs[id];
    if (known) {
      await this.#checkAck(known, archived);
      return undefined;
    }
    const outcome = await readJobOutcome(this.#queue.inbox, id);
    if (outcome.kind === "unreadable") {
      if (!this.#unreadableLogged.has(id))
        this.#log("warn", `${id}: ${outcome.reason}; waiting for a valid job.json`);
      this.#unreadableLogged.add(id);
      return outcome;
    }
    if (outcome.kind !== "ended") return outcome;
    const { job, status } = outcome;
    const ack = await this.#acknowledgement(id, archived);
    const now = this.#clock.now();
    const at = new Date(now).toISOString();
    const history = ack === "archive" || (this.#firstStart && ack === "receipt");
    let notified: Notified;
    if (history) notified = { state: "skipped", at, reason: "preexisting" };
    else if (!(status === "completed" ? job.notify.on_complete : job.notify.on_fail)) {
      notified = { state: "skipped", at, reason: "notify_off" };
    } else if (
      this.#firstStart &&
      job.finished_at !== undefined &&
      now - Date.parse(job.finished_at) > this.#options.staleMessageAfterMs
    ) {
      notified = { state: "skipped", at, reason: "stale" };
    } else if (!channelTarget(this.#options.channels, job.channel)) {
      notified = { state: "unmapped", at, channel: job.channel };
      this.#log(
        "error",
        `${id} ${status}, but its channel ${JSON.stringify(job.channel)} has no mapping, so the team was NOT told. Add plugins.entries.atomizer-job-queue.config.notifier.channels[${JSON.stringify(job.channel.startsWith("#") ? job.channel : `#${job.channel}`)}] = { channel: "slack", to: "channel:C0..." } (or another channel kind) and restart the gateway; the post-processing agent is told too.`,
      );
    } else notified = { state: "sending", since: at, attempts: 0 };
    const entry: LedgerEntry = {
      job_id: id,
      status,
      channel: job.channel,
      ...(job.finished_at ? { finished_at: job.finished_at } : {}),
      recorded_at: at,
      notified,
      handoff: ack
        ? { state: "acknowledged", at, by: ack, sent_at: [] }
        : { state: "pending", since: at, sent_at: [] },
    };
    ledger.jobs[id] = entry;
    this.#dirty = true;
    this.#log(
      "info",
      `${id} ${status}: channel message ${notified.state === "skipped" ? `skipped (${notified.reason})` : notified.state}, hand-off ${entry.handoff.state}`,
    );
    if (notified.state === "sending") {
      // Recorded before sending: a crash mid-send re-sends on start rather than losing the message.
      await this.#commit();
      this.#startSend(id);
    }
    if (entry.handoff.state === "pending") {
      this.#batch.add(id);
      this.#scheduleFlush();
    }
    return outcome;
  }

  async #readJob(id: string): Promise<Job | undefined> {
    const path = join(this.#queue.inbox, id, JOB_FILE);
    try {
      return parseJob(await readJsonFile(path), path);
    } catch {
      return undefined;
    }
  }

  async #messageFor(entry: LedgerEntry): Promise<string> {
    const job = await this.#readJob(entry.job_id);
    if (!job) return `${entry.job_id} ${entry.status}${entry.finished_at ? ` at ${entry.finished_at}` : ""}`;
    const tail =
      entry.status === "completed" || job.error?.log_tail?.length
        ? []
        : await readLastLines(join(this.#queue.inbox, entry.job_id, LOG_FILE), 16 * 1024, 8);
    return channelMessage(job, entry.status, logLinesFor(job, tail));
  }

  #startSend(id: string): void {
    if (this.#sending.has(id)) return;
    this.#sending.add(id);
    void this.#sendWithRetries(id)
      .catch((error: unknown) =>
        this.#log("error", `${id}: channel send crashed: ${(error as Error).message}`),
      )
      .finally(() => this.#sending.delete(id));
  }

  /** Resolves after `ms`, or at once when the engine stops. */
  #sleep(ms: number): Promise<void> {
    return new Promise((done) => {
      const wake = () => {
        this.#sleepers.delete(wake);
        this.#clock.clearTimeout(timer);
        done();
      };
      const timer = this.#clock.setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }

  async #updateEntry(id: string, change: (entry: LedgerEntry) => void): Promise<void> {
    await this.#serial(async () => {
      const entry = this.#ledger?.jobs[id];
      if (!entry) return;
      change(entry);
      this.#dirty = true;
      await this.#commit();
    });
  }

  async #sendWithRetries(id: string): Promise<void> {
    const entry = this.#ledger?.jobs[id];
    if (!entry) return;
    const target = channelTarget(this.#options.channels, entry.channel);
    const at = () => new Date(this.#clock.now()).toISOString();
    if (!target) {
      await this.#updateEntry(id, (e) => {
        e.notified = { state: "unmapped", at: at(), channel: e.channel };
      });
      return;
    }
    const text = await this.#messageFor(entry);
    const delays = this.#options.sendRetryDelaysMs;
    const attempts = delays.length + 1;
    const where = `${entry.channel} (${target.channel} ${target.to})`;
    let lastError = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (!this.#active || this.#stopped) return;
      if (!(await holdsLock(this.#dir, this.#owner))) {
        await this.#lostLock();
        return;
      }
      try {
        const result = await this.#ports.sendText(target, text);
        await this.#updateEntry(id, (e) => {
          e.notified = {
            state: "sent",
            at: at(),
            target: `${target.channel}:${target.to}`,
            attempts: attempt,
            ...(result?.messageId !== undefined ? { message_id: String(result.messageId) } : {}),
          };
        });
        this.#log("info", `${id}: posted to ${where}`);
        return;
      } catch (error) {
        lastError = (error as Error).message ?? String(error);
        await this.#updateEntry(id, (e) => {
          if (e.notified.state === "sending") e.notified = { ...e.notified, attempts: attempt };
        });
        const delay = delays[attempt - 1];
        if (delay === undefined) break;
        this.#log(
          "warn",
          `${id}: posting to ${where} failed (attempt ${attempt} of ${attempts}): ${lastError}; retrying in ${Math.round(delay / 1000)} s`,
        );
        await this.#sleep(delay);
      }
    }
    if (!this.#active || this.#stopped) return;
    await this.#updateEntry(id, (e) => {
      e.notified = { state: "failed", at: at(), attempts, last_error: lastError };
    });
    this.#log(
      "error",
      `${id}: could NOT post to ${where} after ${attempts} attempts: ${lastError}. The team was not told; the post-processing agent is. Check the channel's configuration in openclaw.json (plugins.entries.atomizer-job-queue.config.notifier.channels) and the channel plugin.`,
    );
  }

  #scheduleFlush(at?: number): void {
    if (this.#flushTimer !== undefined || !this.#active) return;
    const now = this.#clock.now();
    const when = Math.max(
      at ?? now + this.#options.batchWindowMs,
      nextWakeAt(this.#wakeHistory, now, this.#options.wakeLimits),
    );
    this.#flushTimer = this.#clock.setTimeout(() => {
      this.#flushTimer = undefined;
      void this.#serial(() => this.#flush());
    }, when - now);
  }

  #channelNote(entry: LedgerEntry): string {
    const channel = entry.channel || "(none)";
    const n = entry.notified;
    switch (n.state) {
      case "sent":
        return `Team channel ${channel} was notified.`;
      case "sending":
        return `Team channel ${channel} is being notified.`;
      case "skipped":
        return n.reason === "notify_off"
          ? "No channel message: the job's notify flag is off for this outcome."
          : "No channel message: the job ended before the notifier started.";
      case "unmapped":
        return `Channel ${channel} has NO mapping, so the team was NOT told: post the outcome there yourself and ask an operator to add notifier.channels[${JSON.stringify(channel)}] to the plugin config.`;
      case "failed":
        return `Posting to ${channel} FAILED (${n.last_error}): tell the team yourself.`;
    }
  }

  async #handoffItem(entry: LedgerEntry): Promise<HandoffItem> {
    const job = await this.#readJob(entry.job_id);
    let summary: string = entry.status;
    if (job) {
      const facts =
        entry.status === "completed"
          ? [trialsText(job), bestText(job, 4)]
          : [errorText(job)?.slice(0, 240), trialsText(job)];
      summary = [`${entry.status} ${job.started_at ? `after ${runTime(job)}` : runTime(job)}`, ...facts]
        .filter((part) => part !== undefined)
        .join(", ");
    }
    return {
      jobId: entry.job_id,
      summary,
      channelNote: this.#channelNote(entry),
      reminder: entry.handoff.sent_at.length > 0,
    };
  }

  async #flush(): Promise<void> {
    const ledger = this.#ledger;
    if (!ledger) return;
    const archived = await this.#archivedIds();
    const due: LedgerEntry[] = [];
    for (const id of [...this.#batch]) {
      const entry = ledger.jobs[id];
      if (entry) await this.#checkAck(entry, archived);
      if (entry?.handoff.state !== "pending") {
        this.#batch.delete(id);
        continue;
      }
      due.push(entry);
    }
    await this.#commit();
    if (due.length === 0) return;
    const now = this.#clock.now();
    const allowed = nextWakeAt(this.#wakeHistory, now, this.#options.wakeLimits);
    if (allowed > now) {
      this.#scheduleFlush(allowed);
      return;
    }
    if (!(await holdsLock(this.#dir, this.#owner))) {
      await this.#lostLock();
      return;
    }
    const chosen = due.slice(0, MAX_HANDOFF_ITEMS);
    const items = await Promise.all(chosen.map((entry) => this.#handoffItem(entry)));
    const text = handoffText(items, this.#options.agentId, this.#options.resendAfterMs);
    const { agentId, sessionKey } = this.#options;
    let queued: boolean;
    try {
      queued = this.#ports.enqueueSystemEvent(text, { agentId, sessionKey, contextKey: CONTEXT_KEY });
      this.#ports.requestHeartbeat({
        source: "hook",
        intent: "immediate",
        reason: WAKE_REASON,
        agentId,
        sessionKey,
      });
    } catch (error) {
      this.#log(
        "error",
        `handing jobs to agent "${agentId}" failed: ${(error as Error).message}; trying again shortly`,
      );
      this.#wakeHistory.push(now);
      this.#scheduleFlush();
      return;
    }
    this.#wakeHistory = pruneWakeHistory([...this.#wakeHistory, now], now, this.#options.wakeLimits);
    const sentAt = new Date(now).toISOString();
    for (const entry of chosen) {
      if (entry.handoff.state === "pending") entry.handoff.sent_at.push(sentAt);
      this.#batch.delete(entry.job_id);
    }
    this.#dirty = true;
    await this.#commit();
    this.#log(
      "info",
      `${HANDOFF_MARKER} ${chosen.length} job(s) to agent "${agentId}" (session ${sessionKey}): system event ${queued ? "queued" : "not queued again (the same event is still waiting)"}, immediate wake requested: ${chosen.map((e) => e.job_id).join(", ")}`,
    );
    if (this.#batch.size > 0) this.#scheduleFlush();
  }
}
