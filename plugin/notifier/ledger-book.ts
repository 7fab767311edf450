import { z } from "zod";
import type { DirStamp } from "../../protocol/index.ts";
import type { CatalogCursor, LedgerStore } from "./ledger-store.ts";
import { CURSOR_KEY, FIRST_SCAN_KEY, INBOX_STAMP_KEY } from "./ledger-store.ts";
import type { EntrySummary } from "./notification-policy.ts";
import { resendDue } from "./notification-policy.ts";
import type { LedgerEntry } from "./notifier-ledger.ts";

const CursorSchema = z.object({ instance: z.string(), counter: z.number().int().nonnegative() });
const StampSchema = z.object({ ino: z.string(), ctime_ns: z.string() });

function isOpen(entry: LedgerEntry): boolean {
  return entry.notified.state === "sending" || entry.handoff.state === "pending";
}

/**
 * The ledger of one activation (lock held), over its store: entries are read from the store on
 * demand, changes are held until the next commit and then written in one transaction, so nothing
 * but the changes of the moment (and the ids of the few live jobs) is in memory. Once closed (the engine stopped or lost the lock, and
 * the ledger belongs to the next holder) nothing changes or is written.
 */
export class LedgerBook {
  readonly #store: LedgerStore;
  #firstStart: boolean;
  /** Changed since the last commit; null: removed. */
  #entries = new Map<string, LedgerEntry | null>();
  #live = new Map<string, boolean>();
  #meta = new Map<string, string>();
  /** Jobs at the runner whose outcome is open: few (the live work), so kept here too. */
  readonly #liveIds: Set<string>;
  #closed = false;
  #writes: Promise<void> = Promise.resolve();

  constructor(store: LedgerStore) {
    this.#store = store;
    this.#firstStart = store.meta(FIRST_SCAN_KEY) === undefined;
    this.#liveIds = new Set(store.liveIds());
  }

  /** The ledger's first scan has not ended yet: it is still sorting history from new work. */
  get firstStart(): boolean {
    return this.#firstStart;
  }

  /** The first scan is over: from now on every job that ends is new work (recorded with the next commit). */
  endFirstScan(): void {
    if (!this.#firstStart || this.#closed) return;
    this.#firstStart = false;
    this.#writeMeta(FIRST_SCAN_KEY, "yes");
  }

  get open(): boolean {
    return !this.#closed;
  }

  /** A job's entry as it stands now; change it through `change`. Nothing once closed. */
  get(id: string): LedgerEntry | undefined {
    if (this.#closed) return undefined;
    const changed = this.#entries.get(id);
    if (changed !== undefined) return changed ?? undefined;
    return this.#store.get(id);
  }

  /** Whether the ledger has the job, also when its row cannot be read (such a job is left alone). */
  has(id: string): boolean {
    if (this.#closed) return false;
    const changed = this.#entries.get(id);
    return changed !== undefined ? changed !== null : this.#store.has(id);
  }

  add(entry: LedgerEntry): void {
    if (this.#closed) return;
    this.#entries.set(entry.job_id, entry);
  }

  remove(id: string): void {
    if (this.#closed || !this.has(id)) return;
    this.#entries.set(id, null);
  }

  /** Changes one entry; false when there is none or the book is closed. */
  change(id: string, edit: (entry: LedgerEntry) => void): boolean {
    const entry = this.#closed ? undefined : this.get(id);
    if (!entry) return false;
    edit(entry);
    this.#entries.set(id, entry);
    return true;
  }

  /** What the ledger says of each of `ids` it has, without parsing done entries. */
  summaries(ids: readonly string[]): Map<string, EntrySummary> {
    if (this.#closed) return new Map();
    const found = this.#store.summaries(ids);
    for (const id of ids) {
      const changed = this.#entries.get(id);
      if (changed === null) found.delete(id);
      else if (changed) {
        const handoff = changed.handoff;
        found.set(id, {
          open: isOpen(changed),
          ...(handoff.state === "acknowledged" ? { acknowledgedAt: handoff.at } : {}),
        });
      }
    }
    return found;
  }

  /** Ids of the entries not done yet: a message being sent or a hand-off pending. */
  openIds(): string[] {
    if (this.#closed) return [];
    const ids = new Set(this.#store.openIds());
    for (const [id, entry] of this.#entries) {
      if (entry && isOpen(entry)) ids.add(id);
      else ids.delete(id);
    }
    return [...ids].sort();
  }

  /** Ids of pending hand-offs due again (never sent, or last sent resendAfterMs ago or more). */
  dueHandoffs(now: number, resendAfterMs: number): string[] {
    if (this.#closed) return [];
    const ids = new Set(this.#store.pendingSentBy(now - resendAfterMs));
    for (const [id, entry] of this.#entries) {
      if (entry && resendDue(entry, now, resendAfterMs)) ids.add(id);
      else ids.delete(id);
    }
    return [...ids].sort();
  }

  /** Jobs at the runner whose outcome is still open: re-read on every rescan. */
  liveIds(): string[] {
    return [...this.#liveIds].sort();
  }

  isLive(id: string): boolean {
    return this.#liveIds.has(id);
  }

  /** Marks a job live (true) or not (false). */
  setLive(id: string, live: boolean): void {
    if (this.#closed || this.#liveIds.has(id) === live) return;
    if (live) this.#liveIds.add(id);
    else this.#liveIds.delete(id);
    this.#live.set(id, live);
  }

  /** The job catalog's change counter up to which every change was read. */
  cursor(): CatalogCursor | undefined {
    return this.#readMeta(CURSOR_KEY, CursorSchema);
  }

  setCursor(cursor: CatalogCursor): void {
    this.#writeMeta(CURSOR_KEY, JSON.stringify({ instance: cursor.instance, counter: cursor.counter }));
  }

  /** The stamp of inbox/ when every job folder in it was last looked at. */
  inboxStamp(): DirStamp | undefined {
    return this.#readMeta(INBOX_STAMP_KEY, StampSchema);
  }

  setInboxStamp(stamp: DirStamp | undefined): void {
    this.#writeMeta(
      INBOX_STAMP_KEY,
      JSON.stringify(stamp ? { ino: stamp.ino, ctime_ns: stamp.ctime_ns } : null),
    );
  }

  /** Held for the next commit unless it is what the ledger says already (an idle rescan writes nothing). */
  #writeMeta(key: string, text: string): void {
    if (this.#closed || (this.#meta.get(key) ?? this.#store.meta(key)) === text) return;
    this.#meta.set(key, text);
  }

  #readMeta<T>(key: string, schema: z.ZodType<T>): T | undefined {
    if (this.#closed) return undefined;
    const text = this.#meta.get(key) ?? this.#store.meta(key);
    if (text === undefined) return undefined;
    try {
      const parsed = schema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
    } catch {
      // Falls through: a value that cannot be read only costs one more full look.
    }
    return undefined;
  }

  /** Writes what changed, in one transaction; after every commit queued before. */
  commit(): Promise<void> {
    const write = this.#writes.then(() => {
      if (this.#closed || this.#entries.size + this.#live.size + this.#meta.size === 0) return;
      const change = { entries: this.#entries, live: this.#live, meta: this.#meta };
      this.#entries = new Map();
      this.#live = new Map();
      this.#meta = new Map();
      try {
        this.#store.write(change);
      } catch (error) {
        // Kept for the next commit, under anything changed meanwhile.
        this.#entries = new Map([...change.entries, ...this.#entries]);
        this.#live = new Map([...change.live, ...this.#live]);
        this.#meta = new Map([...change.meta, ...this.#meta]);
        throw error;
      }
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }

  /** Closes the book; resolves once a commit already under way has ended. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#writes;
  }
}
