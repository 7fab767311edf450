import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { FSWatcher } from "chokidar";
import { watch } from "chokidar";
import type { Job, QueuePaths } from "../../protocol/index.ts";
import { errnoCode, JOB_FILE, parseArchiveDirName } from "../../protocol/index.ts";
import type { JobRead } from "./job-files.ts";
import { readJobAt } from "./job-files.ts";
import type { JobState } from "./job-state.ts";
import { deriveState } from "./job-state.ts";

/** One list row: what list_jobs shows and filters on. */
export interface IndexRow {
  job_id: string;
  state: JobState;
  project?: string;
  created_by?: string;
  created_at?: string;
  seq: number;
  trials_complete?: number;
  trials_planned?: number | null;
  best_value?: number | null;
  error_kind?: string;
  finished_at?: string;
  archived_at?: string;
  problem?: string;
  /** Kept for submit's idempotency lookup; not shown in lists. */
  idempotency_key?: string;
  /** Index change counter value when this row last changed (status, progress, presence). */
  change: number;
}

type Listener = (row: IndexRow | undefined, rowChanged: boolean) => void;

/** Only what lists and lookups need: a parsed job.json per folder would be most of the index's memory. */
interface Entry {
  archiveNames: string[];
  row: IndexRow;
  fingerprint: string;
}

export interface JobIndexOptions {
  /** Track one job only (the CLI's wait): no full scan, no watchers on other jobs. */
  only?: string;
}

type Root = "outbox" | "inbox" | "archive";
const SCAN_CONCURRENCY = 32;
/** Inbox statuses after which the runner never rewrites job.json again (PROTOCOL.md section 4). */
const FINAL_INBOX_STATUSES: ReadonlySet<string> = new Set(["completed", "failed", "cancelled"]);
const MAX_REMOVED = 1000;

interface Reads {
  outbox: JobRead;
  inbox: JobRead;
  archives: Map<string, JobRead>;
}

function summarize(jobId: string, entry: Reads, change: number): IndexRow {
  const job = (read: JobRead): Job | undefined => (read.kind === "ok" ? read.job : undefined);
  const inbox = job(entry.inbox);
  const outbox = job(entry.outbox);
  const archiveNames = [...entry.archives.keys()].sort();
  const latestArchive = archiveNames.at(-1);
  const archived = latestArchive ? job(entry.archives.get(latestArchive) ?? { kind: "absent" }) : undefined;
  const state = deriveState({
    outbox: entry.outbox.kind !== "absent",
    inboxStatus: inbox?.status,
    archived: latestArchive !== undefined,
  });
  const source = state === "archived" ? (archived ?? inbox ?? outbox) : (inbox ?? outbox ?? archived);
  const problems = [entry.outbox, entry.inbox]
    .filter((read): read is { kind: "invalid"; problem: string } => read.kind === "invalid")
    .map((read) => read.problem);
  const row: IndexRow = { job_id: jobId, state, seq: inbox?.seq ?? 0, change };
  if (source) {
    row.project = source.project;
    row.created_by = source.created_by;
    row.created_at = source.created_at;
    if (source.progress?.trials_complete !== undefined) row.trials_complete = source.progress.trials_complete;
    if (source.progress?.trials_planned !== undefined) row.trials_planned = source.progress.trials_planned;
    if (source.progress?.best_value !== undefined) row.best_value = source.progress.best_value;
    if (source.error?.kind) row.error_kind = source.error.kind;
    if (source.finished_at) row.finished_at = source.finished_at;
    if (source.idempotency_key) row.idempotency_key = source.idempotency_key;
  }
  if (state === "archived" && latestArchive) {
    const parsed = parseArchiveDirName(latestArchive);
    if (parsed) row.archived_at = parsed.archived_at;
  }
  if (problems.length > 0) row.problem = problems.join("; ");
  return row;
}

function fingerprintOf(row: IndexRow): string {
  const { change: _change, seq: _seq, ...rest } = row;
  return JSON.stringify(rest);
}

/**
 * Every job's list row, kept in memory, so list_jobs never re-reads 10,000 job.json files. Each
 * observed change gets the next value of a counter; cursors are "<instance>.<counter>".
 *
 * Watching costs one inotify watch per watched folder, so only folders whose contents can still
 * change the row are watched:
 * - outbox/, inbox/ and archive/ themselves, at depth 0: outbox and archive folders are published
 *   whole by rename from this side (PROTOCOL.md), so their addDir/unlinkDir says all there is, and
 *   inbox/<id>/ appearing or vanishing is seen here too (also after its own watch was dropped);
 * - inbox/<id>/ (job.json only) of each job whose inbox job.json is not final yet (absent, invalid,
 *   submitted, queued or running): Syncthing creates the folder first and rewrites job.json in place
 *   on every runner heartbeat. Once it reads completed, failed or cancelled the watch is dropped: a
 *   final job.json is never rewritten, and rows hold nothing else from the inbox folder (results
 *   still syncing are counted by job_status when asked, not here).
 * Cancel requests (outbox/.cancel/) are not part of a row, so they are not watched.
 */
export class JobIndex {
  readonly instanceId = randomBytes(6).toString("hex");
  readonly #queue: QueuePaths;
  readonly #only: string | undefined;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #refreshing = new Map<string, { dirty: boolean; done: Promise<void> }>();
  /** Archive folder names per job id, from the scan and the watcher (never a readdir per job). */
  readonly #archiveNames = new Map<string, Set<string>>();
  /** Jobs whose every file vanished, with the counter value of that change (bounded). */
  readonly #removed = new Map<string, number>();
  /** Jobs with an inbox/<id>/ folder, from the scan and the root watcher (no stat per job). */
  readonly #inboxDirs = new Set<string>();
  /** Jobs whose inbox/<id>/ the second watcher follows: the not-yet-final ones. */
  readonly #inboxWatched = new Set<string>();
  #counter = 0;
  #watcher: FSWatcher | undefined;
  #inboxWatcher: FSWatcher | undefined;
  #ready: Promise<void> | undefined;
  #closed = false;

  constructor(queue: QueuePaths, options: JobIndexOptions = {}) {
    this.#queue = queue;
    this.#only = options.only;
  }

  get counter(): number {
    return this.#counter;
  }

  /** Starts the watcher, then scans; events during the scan just cause another (idempotent) read. */
  start(): Promise<void> {
    this.#ready ??= this.#start();
    return this.#ready;
  }

  async #start(): Promise<void> {
    const roots = [this.#queue.outbox, this.#queue.inbox, this.#queue.archive];
    const watcher = watch(roots, {
      depth: 0,
      // Like the scan (Dirent.isDirectory), a link is never a job folder; and following links costs
      // a realpath per folder, ~50 MB of RSS at 10,000 jobs.
      followSymlinks: false,
      ignoreInitial: true,
      ignored: (path: string) => this.#ignoredRootEntry(path),
    });
    this.#watcher = watcher;
    watcher.on("all", (event, path) => this.#onRootEntry(event, path));
    watcher.on("error", () => {
      // A vanished or locked folder is re-read on its next event; the watcher keeps running.
    });
    // A watcher of its own: chokidar's unwatch() ignores the path from then on, which in the root
    // watcher would also hide the folder vanishing or coming back. Not ignoreInitial: a folder added
    // later is listed once its watch stands, so a job.json that arrived before that is still seen.
    const inboxWatcher = watch([], { depth: 0, ignored: (path: string) => this.#ignoredInboxEntry(path) });
    this.#inboxWatcher = inboxWatcher;
    inboxWatcher.on("all", (_event, path) => this.#onInboxEntry(path));
    inboxWatcher.on("error", () => {
      // As above: the job's next event, or its folder's addDir in inbox/, re-reads it.
    });
    await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
    const scanned = await this.#scanIds();
    const ids = this.#only ? [this.#only] : scanned;
    for (let i = 0; i < ids.length; i += SCAN_CONCURRENCY) {
      await Promise.all(ids.slice(i, i + SCAN_CONCURRENCY).map((id) => this.refresh(id)));
    }
  }

  async #scanIds(): Promise<string[]> {
    const ids = new Set<string>();
    const dirs = async (root: string): Promise<Dirent[]> => {
      try {
        return await readdir(root, { withFileTypes: true });
      } catch (error) {
        if (errnoCode(error) === "ENOENT") return [];
        throw error;
      }
    };
    if (this.#only === undefined) {
      for (const dirent of await dirs(this.#queue.outbox)) {
        if (dirent.isDirectory() && dirent.name.startsWith("job-")) ids.add(dirent.name);
      }
      for (const dirent of await dirs(this.#queue.inbox)) {
        if (!dirent.isDirectory() || !dirent.name.startsWith("job-")) continue;
        ids.add(dirent.name);
        this.#inboxDirs.add(dirent.name);
      }
    } else if (await isDirectory(join(this.#queue.inbox, this.#only))) {
      this.#inboxDirs.add(this.#only);
    }
    for (const dirent of await dirs(this.#queue.archive)) {
      const parsed = dirent.isDirectory() ? parseArchiveDirName(dirent.name) : undefined;
      if (parsed && (this.#only === undefined || parsed.job_id === this.#only)) {
        ids.add(parsed.job_id);
        this.noteArchiveDir(dirent.name);
      }
    }
    return [...ids];
  }

  #locate(path: string): { root: Root; segments: string[] } | undefined {
    for (const root of ["outbox", "inbox", "archive"] as const) {
      const rel = relative(this.#queue[root], path);
      if (rel === "") return { root, segments: [] };
      if (!rel.startsWith("..") && !rel.startsWith(sep)) return { root, segments: rel.split(sep) };
    }
    return undefined;
  }

  #jobIdOf(root: Root, name: string): string | undefined {
    if (root === "archive") return parseArchiveDirName(name)?.job_id;
    return name.startsWith("job-") ? name : undefined;
  }

  /** The root watcher sees the job folders directly in outbox/, inbox/ and archive/, nothing else. */
  #ignoredRootEntry(path: string): boolean {
    const located = this.#locate(path);
    if (!located) return false;
    const [first, second] = located.segments;
    if (first === undefined) return false;
    const jobId = this.#jobIdOf(located.root, first);
    if (jobId === undefined || (this.#only !== undefined && jobId !== this.#only)) return true;
    return second !== undefined;
  }

  /** The inbox watcher sees inbox/<id>/ and its job.json, nothing else. */
  #ignoredInboxEntry(path: string): boolean {
    const located = this.#locate(path);
    if (!located || located.segments.length === 0) return false;
    if (located.root !== "inbox") return true;
    const [first, second, ...rest] = located.segments;
    if (first === undefined || this.#jobIdOf("inbox", first) === undefined) return true;
    return second !== undefined && (second !== JOB_FILE || rest.length > 0);
  }

  #onRootEntry(event: string, path: string): void {
    const located = this.#locate(path);
    const first = located?.segments[0];
    if (!located || first === undefined || located.segments.length > 1) return;
    const jobId = this.#jobIdOf(located.root, first);
    if (jobId === undefined) return;
    if (located.root === "archive") this.noteArchiveDir(first);
    if (located.root === "inbox" && event === "addDir") this.#inboxDirs.add(jobId);
    if (located.root === "inbox" && event === "unlinkDir") this.#inboxDirs.delete(jobId);
    void this.refresh(jobId);
  }

  #onInboxEntry(path: string): void {
    const located = this.#locate(path);
    const first = located?.segments[0];
    if (located?.root !== "inbox" || first === undefined) return;
    const jobId = this.#jobIdOf("inbox", first);
    if (jobId !== undefined) void this.refresh(jobId);
  }

  /** Follows inbox/<id>/ while its job.json can still change, and lets it go once it is final. */
  #followInbox(jobId: string, inbox: JobRead): void {
    const watcher = this.#inboxWatcher;
    if (!watcher || this.#closed) return;
    const final = inbox.kind === "ok" && FINAL_INBOX_STATUSES.has(inbox.job.status);
    const wanted = this.#inboxDirs.has(jobId) && !final;
    if (wanted === this.#inboxWatched.has(jobId)) return;
    const dir = join(this.#queue.inbox, jobId);
    if (wanted) {
      this.#inboxWatched.add(jobId);
      watcher.add(dir);
    } else {
      this.#inboxWatched.delete(jobId);
      watcher.unwatch(dir);
    }
  }

  /** Jobs whose inbox/<id>/ is watched for job.json rewrites (those not final yet), sorted. */
  watchedInboxIds(): string[] {
    return [...this.#inboxWatched].sort();
  }

  /** Records an archive folder (from the watcher, or from archive_job right after publishing it). */
  noteArchiveDir(name: string): void {
    const parsed = parseArchiveDirName(name);
    if (!parsed) return;
    let names = this.#archiveNames.get(parsed.job_id);
    if (!names) {
      names = new Set();
      this.#archiveNames.set(parsed.job_id, names);
    }
    names.add(name);
  }

  /**
   * Re-reads one job's job.json files and updates its row; concurrent calls for one job coalesce into
   * one more read after the current one, so the last read always sees the latest files.
   */
  refresh(jobId: string): Promise<void> {
    const running = this.#refreshing.get(jobId);
    if (running) {
      running.dirty = true;
      return running.done;
    }
    const state = { dirty: false, done: Promise.resolve() };
    state.done = (async () => {
      try {
        do {
          state.dirty = false;
          await this.#read(jobId);
        } while (state.dirty && !this.#closed);
      } finally {
        this.#refreshing.delete(jobId);
      }
    })();
    this.#refreshing.set(jobId, state);
    return state.done;
  }

  async #read(jobId: string): Promise<void> {
    const [outbox, inbox] = await Promise.all([
      readJobAt(join(this.#queue.outbox, jobId)),
      readJobAt(join(this.#queue.inbox, jobId)),
    ]);
    const archives = new Map<string, JobRead>();
    const known = this.#archiveNames.get(jobId);
    for (const name of [...(known ?? [])]) {
      const read = await readJobAt(join(this.#queue.archive, name));
      // Archives are published whole by rename: no job.json means the folder is gone.
      if (read.kind === "absent") known?.delete(name);
      else archives.set(name, read);
    }
    if (known?.size === 0) this.#archiveNames.delete(jobId);
    this.#followInbox(jobId, inbox);
    const previous = this.#entries.get(jobId);
    if (outbox.kind === "absent" && inbox.kind === "absent" && archives.size === 0) {
      if (previous) {
        this.#counter++;
        const row: IndexRow = {
          job_id: jobId,
          state: "unknown",
          seq: previous.row.seq,
          change: this.#counter,
        };
        this.#entries.delete(jobId);
        this.#removed.delete(jobId);
        this.#removed.set(jobId, this.#counter);
        if (this.#removed.size > MAX_REMOVED) {
          const oldest = this.#removed.keys().next().value;
          if (oldest !== undefined) this.#removed.delete(oldest);
        }
        this.#emit(jobId, row, true);
      }
      return;
    }
    const row = summarize(jobId, { outbox, inbox, archives }, previous?.row.change ?? 0);
    const fingerprint = fingerprintOf(row);
    const changed = previous?.fingerprint !== fingerprint;
    if (changed) {
      this.#counter++;
      row.change = this.#counter;
    }
    this.#entries.set(jobId, { archiveNames: [...archives.keys()], row, fingerprint });
    this.#removed.delete(jobId);
    this.#emit(jobId, row, changed);
  }

  #emit(jobId: string, row: IndexRow | undefined, rowChanged: boolean): void {
    for (const key of [jobId, "*"]) {
      for (const listener of this.#listeners.get(key) ?? []) {
        try {
          listener(row, rowChanged);
        } catch {
          // One subscriber's failure must not stop the others.
        }
      }
    }
  }

  /** Calls `listener` on every observed change of `jobId` (or of any job, for "*"). */
  subscribe(jobId: string, listener: Listener): () => void {
    let set = this.#listeners.get(jobId);
    if (!set) {
      set = new Set();
      this.#listeners.set(jobId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(jobId);
    };
  }

  get(jobId: string): IndexRow | undefined {
    return this.#entries.get(jobId)?.row;
  }

  rows(): IterableIterator<IndexRow> {
    return Array.from(this.#entries.values(), (entry) => entry.row)[Symbol.iterator]();
  }

  ids(): IterableIterator<string> {
    return this.#entries.keys();
  }

  /** Archive folder names of a job, newest first, from memory. */
  archiveDirs(jobId: string): string[] {
    return [...(this.#entries.get(jobId)?.archiveNames ?? [])].sort().reverse();
  }

  /** Ids removed after `counter`, and whether the removal record reaches back that far. */
  removedSince(counter: number): { ids: string[]; complete: boolean } {
    const ids = [...this.#removed].filter(([, change]) => change > counter).map(([id]) => id);
    const oldest = this.#removed.values().next().value;
    const complete = this.#removed.size < MAX_REMOVED || (oldest !== undefined && oldest <= counter);
    return { ids, complete };
  }

  get size(): number {
    return this.#entries.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    await Promise.all([this.#watcher?.close(), this.#inboxWatcher?.close()]);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch (error) {
    if (errnoCode(error) === "ENOENT" || errnoCode(error) === "ENOTDIR") return false;
    throw error;
  }
}
