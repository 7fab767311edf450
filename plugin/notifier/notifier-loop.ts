import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { FSWatcher } from "chokidar";
import { watch } from "chokidar";
import {
  ATOMIC_TEMP_PREFIX,
  errnoCode,
  isJobId,
  isSyncthingArtefact,
  pathExists,
  queuePaths,
} from "../../protocol/index.ts";
import { ChannelSender } from "./channel-sender.ts";
import { HandoffDispatcher } from "./handoff-dispatcher.ts";
import type { JobOutcome } from "./job-outcome.ts";
import { readJobOutcome } from "./job-outcome.ts";
import { JobWatches } from "./job-watches.ts";
import { channelTarget } from "./notifier-config.ts";
import type { NotifierContext } from "./notifier-context.ts";
import type { Ledger, LedgerEntry, Notified } from "./notifier-ledger.ts";
import { emptyLedger, loadLedger, notifierStateDir, saveLedger } from "./notifier-ledger.ts";
import { newLockOwner, refreshLock, releaseLock, tryAcquireLock } from "./notifier-lock.ts";
import type {
  Clock,
  NotifierLog,
  NotifierOptions,
  NotifierPorts,
  ResolvedNotifierOptions,
} from "./notifier-types.ts";
import { SYSTEM_CLOCK } from "./notifier-types.ts";
import { acknowledgement, archivedIds, archivedJobId } from "./queue-reads.ts";
import { DEFAULT_WAKE_LIMITS } from "./wake-limits.ts";

export type { Clock, NotifierLog, NotifierOptions, NotifierPorts, WakeRequest } from "./notifier-types.ts";
export { CONTEXT_KEY, SYSTEM_CLOCK, WAKE_REASON } from "./notifier-types.ts";

/** Acknowledged entries whose inbox copy is gone are dropped after this long. */
const PRUNE_AFTER_MS = 30 * 24 * 3600_000;

/**
 * Watches the submitting side's view of inbox/ and, when a job ends, posts its one channel message
 * and hands it to the post-processing agent (system event + immediate wake), batching jobs that end
 * together, re-sending a hand-off until the agent fetches the results. Bookkeeping lives in
 * `<queue>/.state/notifier/` (ledger.json + lock.json); only the lock holder acts.
 */
export class NotifierEngine {
  readonly #options: ResolvedNotifierOptions;
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
  readonly #sender: ChannelSender;
  readonly #handoffs: HandoffDispatcher;
  #checkTimers = new Map<string, unknown>();
  #rescanTimer: unknown;
  #lockTimer: unknown;
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
    const ctx: NotifierContext = {
      options: this.#options,
      ports,
      clock: this.#clock,
      queue: this.#queue,
      dir: this.#dir,
      owner: this.#owner,
      log: (level, message) => this.#log(level, message),
      serial: (task) => this.#serial(task),
      ledger: () => this.#ledger,
      active: () => this.#active,
      stopped: () => this.#stopped,
      markDirty: () => {
        this.#dirty = true;
      },
      commit: () => this.#commit(),
      lostLock: () => this.#lostLock(),
    };
    this.#sender = new ChannelSender(ctx);
    this.#handoffs = new HandoffDispatcher(ctx, (entry, archived) => this.#checkAck(entry, archived));
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
    this.#sender.wakeSleepers();
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
        if (entry.handoff.state === "pending") this.#handoffs.add(entry.job_id);
        if (entry.notified.state === "sending") {
          this.#log(
            "warn",
            `${entry.job_id}: its channel message was being sent when the notifier stopped; sending it again (it may arrive twice)`,
          );
          this.#sender.startSend(entry.job_id);
        }
      }
      if (this.#handoffs.size > 0) this.#handoffs.scheduleFlush();
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
    this.#handoffs.reset();
    if (this.#rescanTimer !== undefined) this.#clock.clearTimeout(this.#rescanTimer);
    this.#rescanTimer = undefined;
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
    // start() made .state/fetched/ first: chokidar never watches a folder missing when it starts. No
    // await may stand between a watch() and its "ready" listener below, or "ready" can be missed.
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
    const archived = await archivedIds(this.#queue);
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
    this.#handoffs.queueDueResends(now);
    await this.#commit();
  }

  async #checkAck(entry: LedgerEntry, archived?: ReadonlySet<string>): Promise<void> {
    if (entry.handoff.state !== "pending") return;
    const by = await acknowledgement(this.#queue, entry.job_id, archived);
    if (!by) return;
    entry.handoff = {
      state: "acknowledged",
      at: new Date(this.#clock.now()).toISOString(),
      by,
      sent_at: entry.handoff.sent_at,
    };
    this.#handoffs.drop(entry.job_id);
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
    const ack = await acknowledgement(this.#queue, id, archived);
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
      this.#sender.startSend(id);
    }
    if (entry.handoff.state === "pending") {
      this.#handoffs.add(id);
      this.#handoffs.scheduleFlush();
    }
    return outcome;
  }
}
