// The seam between the submitting side's operations and the queue's storage. Operations ask the
// catalog about jobs and hand it their writes; they never list or join queue folders themselves.
// Today two implementations read the Syncthing folders (a watched in-memory index for the MCP server,
// a one-shot disk reader for CLI commands); a distributed engine (issue 16) or a persistent index
// (issue 17) implements the same interface.
import type { CancelRequest, FetchReceipt, Job, JobRead } from "../../protocol/index.ts";
import type { JobState } from "../jobs/job-state.ts";
import type { ResultsSync } from "../jobs/results-check.ts";
import type { RunnerView } from "../jobs/runners.ts";

export type { JobRead, JobState, ResultsSync, RunnerView };

/** One list row: what list_jobs shows and filters on, and what every change event carries. */
export interface CatalogRow {
  job_id: string;
  state: JobState;
  project?: string;
  created_by?: string;
  created_at?: string;
  /** The runner's job.json `seq` (0 before it wrote one). */
  seq: number;
  trials_complete?: number;
  trials_planned?: number | null;
  best_value?: number | null;
  error_kind?: string;
  finished_at?: string;
  archived_at?: string;
  /** Files that exist but cannot be used, joined ("outbox job.json: ..."). */
  problem?: string;
  /** Kept for submit's idempotency lookup; not shown in lists. */
  idempotency_key?: string;
  /** The catalog's change counter when this row last changed (status, progress, presence). */
  change: number;
}

/**
 * Where some of a job's files can be read as local files. `within` is the folder every read must stay
 * inside (a linked job folder or results folder must not lead a read elsewhere). A backend that does
 * not keep jobs in synced folders materialises them into a local folder and names that.
 */
export interface JobFolder {
  dir: string;
  within: string;
}

/** The job's archived copy: the newest one when it was archived more than once. */
export interface ArchivedCopy extends JobFolder {
  /** The archive's name (archive/<job_id>-<UTC stamp>/ for the folder queue). */
  name: string;
  archived_at: string;
  read: JobRead;
}

/**
 * Whether a terminal job's result files have all arrived, checked against the results manifest:
 * - verified: every listed file present with its size and sha256;
 * - syncing: a manifest exists but files are missing, short or differ (`detail` says which), or
 *   cannot be read safely; the catalog keeps following the job until they verify;
 * - present: every listed file present with its size, contents not hashed (only from a `get` with
 *   results: "sizes", for callers that hash while copying anyway);
 * - none: there is nothing to verify (the job is not terminal, or job.json has no manifest).
 * `sync` is the full count for job_status either way.
 */
export type ResultsVerification =
  | { state: "verified"; sync: ResultsSync }
  | { state: "present"; sync: ResultsSync }
  | { state: "syncing"; detail: string; sync: ResultsSync }
  | { state: "none"; sync: ResultsSync };

export interface GetOptions {
  /**
   * "full" (default): hash the result files against the manifest (cached by sizes and mtimes).
   * "sizes": sizes only; for fetch_results and archive_job, which hash every file while copying it.
   */
  results?: "full" | "sizes";
}

/** How the submitting side took a job's results: a fetch receipt, an archived copy, or not yet. */
export type Acknowledgement = "receipt" | "archive" | undefined;

/** Everything one `get` knows about a job, read once: operations never read its files again for it. */
export interface JobRecord {
  job_id: string;
  /** What the files prove (PROTOCOL.md section 4); "unknown" when there is nothing at all. */
  state: JobState;
  /** The row list_jobs would show for it now (state "unknown" and seq 0 when unknown). */
  row: CatalogRow;
  /** The submitted job.json (outbox/<id>/ for the folder queue). */
  submitted: JobRead;
  /** The runner's job.json (inbox/<id>/). */
  runner: JobRead;
  /** Only looked for when the submission is gone, as the protocol orders it. */
  archive: ArchivedCopy | undefined;
  /** The job.json that speaks for the job: the archived one when archived, else the runner's, else the submitted one. */
  job: Job | undefined;
  /**
   * Where to read the job's files: the submitted ones and the runner's copy (either may not exist;
   * `submitted`/`runner` say), and the archived copy when there is one.
   */
  folders: { submitted: JobFolder; runner: JobFolder; archive?: JobFolder };
  /** For a terminal runner job.json (also when archived meanwhile); "none" otherwise. */
  results: ResultsVerification;
  /** The cancel request, when one was written and is readable. */
  cancel: CancelRequest | undefined;
  acknowledged: Acknowledgement;
}

/**
 * What a change event says happened. Each event names its job and carries its row after the change.
 * - row: the list row changed (status, progress, presence; also when an archived copy appeared);
 * - touched: the job's files were rewritten but its row is the same (a runner heartbeat);
 * - removed: every file of the job is gone; the row has state "unknown";
 * - results: the result files of a terminal job finished syncing (syncing -> verified). The catalog
 *   follows a job whose results it found incomplete (by a change or by a `get`) until they verify,
 *   although its job.json is final; results complete at first sight get no such event (their job's
 *   "row" event is the cue, and `get` says "verified");
 * - fetched: a fetch receipt appeared (fetch_results copied and verified everything);
 * - archived: an archived copy appeared; the row turns "archived" (a "row" event) once the submission
 *   is gone too, which archive_job does right after publishing the copy.
 */
export type CatalogChange = "row" | "touched" | "removed" | "results" | "fetched" | "archived";

export interface CatalogEvent {
  job_id: string;
  change: CatalogChange;
  row: CatalogRow;
  /** With change "row": the job is new to this catalog's readers (it had no row before). */
  added?: boolean;
  /** With change "results": the verification that turned complete. */
  results?: ResultsVerification;
}

export type CatalogListener = (event: CatalogEvent) => void;

export interface SubscribeOptions {
  /**
   * Also report "fetched" events. Off by default: only the notifier needs them, and following the
   * receipts costs a watch the MCP server would hold for nothing.
   */
  receipts?: boolean;
}

/** A full listing with the change counter it was taken at, for list_jobs and its cursors. */
export interface CatalogListing {
  /** This catalog's run: counters of another run (a restarted server, another CLI call) are not comparable. */
  instance: string;
  /** The change counter when the listing was taken. */
  counter: number;
  rows: readonly CatalogRow[];
  /** Ids removed after `counter`, and whether the removal record reaches back that far. */
  removedSince(counter: number): { ids: string[]; complete: boolean };
}

/** One page of rows: filters, order and paging are the catalog's, so no caller walks every job. */
export interface CatalogQuery {
  states?: readonly JobState[];
  project?: string;
  created_by?: string;
  /** Only rows whose change counter is above this (a cursor's counter). */
  changedAfter?: number;
  /** "newest" (default): by submission time, newest first; "change": oldest change first, for catching up. */
  order?: "newest" | "change";
  offset?: number;
  /** At most 200 (the default). */
  limit?: number;
}

/** A page with its total and the change counter it was taken at. */
export interface CatalogPage {
  /** The index's life: counters of another (a rebuilt index, another CLI call's scan) are not comparable. */
  instance: string;
  counter: number;
  /** Rows matching the filters, before paging. */
  total: number;
  rows: CatalogRow[];
  removedSince(counter: number): { ids: string[]; complete: boolean };
  /** Set while a first build of the index runs: the page may lack jobs not read yet. */
  building?: { read: number; planned: number };
}

/** The outcome of publishing a new submission under an id. */
export type PublishOutcome = { published: true; folder: JobFolder } | { published: false; reason: "taken" };

/**
 * One interface over the queue for every operation of the submitting side. Reads are "get a job once"
 * and "list"; `subscribe` replaces watching folders; the writes are the few the submitting side makes.
 * Ids passed in have passed checkJobIdArgument; nothing here throws for an unknown job.
 */
export interface JobCatalog {
  /** Everything about one job, read now from the storage (not from a possibly lagging list row). */
  get(jobId: string, options?: GetOptions): Promise<JobRecord>;
  /** Every job's row with the change counter; costs a row per job, so lists and rescans use `query`. */
  list(): Promise<CatalogListing>;
  /** One page of rows matching `query`, with its total. */
  query(query: CatalogQuery): Promise<CatalogPage>;
  /** Every job id known (for suggestions on a mistyped id and for rescans). */
  ids(): Promise<string[]>;
  /** The job submitted with this idempotency_key, when there is one (its newest readable job.json). */
  findByIdempotencyKey(key: string): Promise<Job | undefined>;
  /** Every runner's last heartbeat, newest first (job_status of a waiting job, runner_status). */
  runners(now: Date): Promise<RunnerView[]>;
  /**
   * Calls `listener` on every change of `jobId`, or of any job for "*". Resolves once the
   * subscription is live: a change after that is reported. The returned function ends it. Events
   * of one job may coalesce; a subscriber that must not miss one rescans with `list` and `get`.
   */
  subscribe(jobId: string, listener: CatalogListener, options?: SubscribeOptions): Promise<() => void>;

  /** Whether an id is in use anywhere (submitted, at a runner, or archived). */
  isTaken(jobId: string): Promise<boolean>;
  /** Publishes a complete staged job (job.json written last) under `jobId`, whole, or says the id is taken. */
  publishSubmission(jobId: string, staged: string): Promise<PublishOutcome>;
  /** Where the submission of `jobId` is (or would be) published, for submit_job's output. */
  submissionFolder(jobId: string): JobFolder;
  /** Writes the cancel request unless one is there; returns the request that stands. */
  /** Writes the request unless one is there that `keep` accepts (default: any readable one). */
  requestCancel(
    request: CancelRequest,
    keep?: (existing: CancelRequest) => boolean,
  ): Promise<{ request: CancelRequest; already: boolean }>;
  /** Records that fetch_results took every result file (the notifier's acknowledgement). */
  recordFetch(receipt: FetchReceipt): Promise<void>;
  /** Publishes a complete staged archived copy of `jobId` whole, under a free name for `at`. */
  publishArchive(jobId: string, staged: string, at: Date): Promise<ArchivedCopy>;
  /** After archiving: removes the submission (one clean removal for Syncthing) and its cancel request. */
  retire(jobId: string): Promise<void>;

  /** Stops watching (if it did) and ends every subscription. */
  close(): Promise<void>;
}

/** Which implementation a context uses: "watched" for a long-running server, "disk" for one-shot commands. */
export type CatalogKind = "watched" | "disk";

/** What `openCatalog` (submitter/catalog/open-catalog.ts) needs; the notifier passes only the queue. */
export interface CatalogOptions {
  kind: CatalogKind;
  /** The queue root (holding outbox/, inbox/, archive/ and .state/). */
  queueRoot: string;
  /** Where writes are staged before publishing (default <queue>/.staging: the same filesystem). */
  stagingDir?: string;
  /**
   * The submitting side's own state folder, outside the synced tree, holding the persistent job index
   * (default: defaultStateDir() in index-location.ts). ":memory:" keeps the index in memory only.
   */
  stateDir?: string;
  /** Where the catalog says what it did to its index (rebuilt, built from N folders). */
  log?: (line: string) => void;
  /** How long opening a watched catalog waits for its index before serving anyway (default 3 s). */
  buildWaitMs?: number;
}
