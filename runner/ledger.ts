import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { Job, TerminalStatus } from "../protocol/index.ts";
import {
  errnoCode,
  IsoTimeSchema,
  JobSchema,
  JobStatusSchema,
  TerminalStatusSchema,
  writeAll,
} from "../protocol/index.ts";

/** The ledger file in the state folder: one JSON record per line, appended and fsynced, never rewritten. */
export const LEDGER_FILE = "ledger.jsonl";

export const StopReasonSchema = z.object({
  kind: z.enum(["timeout", "cancelled", "runner_restart"]),
  message: z.string(),
});

/**
 * What the ledger records. `accepted` is written before the job is published as queued, `started` before
 * its process is spawned, so after any crash a job is either known (never run again) or never seen.
 */
export const LedgerRecordSchema = z.discriminatedUnion("event", [
  z.object({ event: z.literal("accepted"), job_id: z.string(), at: IsoTimeSchema, job: JobSchema }),
  /** Closed before it could run: rejected, incomplete or cancelled. `job` is its final inbox job.json. */
  z.object({
    event: z.literal("refused"),
    job_id: z.string(),
    at: IsoTimeSchema,
    status: TerminalStatusSchema,
    job: JobSchema,
  }),
  /** Written before the run's supervisor is launched. `supervised` is absent in ledgers of runner 0.1. */
  z.object({
    event: z.literal("started"),
    job_id: z.string(),
    at: IsoTimeSchema,
    supervised: z.boolean().optional(),
  }),
  /** Runner 0.1 only: the script's bare pid (supervised runs keep their identities in the run folder). */
  z.object({
    event: z.literal("pid"),
    job_id: z.string(),
    at: IsoTimeSchema,
    pid: z.number().int().positive(),
  }),
  /** The runner decided to end a run (cancel, timeout): written before the kill, so a restart knows why it ended. */
  z.object({ event: z.literal("stopping"), job_id: z.string(), at: IsoTimeSchema, reason: StopReasonSchema }),
  /** A started run whose script provably never launched (its request was withdrawn): it may start again. */
  z.object({ event: z.literal("requeued"), job_id: z.string(), at: IsoTimeSchema, reason: z.string() }),
  /**
   * Learnt from inbox/ (the queue's own record) because this ledger did not know the job: a final
   * status, or `foreign` for a live job this runner cannot adopt (another runner's, or records lost).
   * Either way the job is never started from here.
   */
  z.object({
    event: z.literal("imported"),
    job_id: z.string(),
    at: IsoTimeSchema,
    inbox_status: JobStatusSchema,
    status: TerminalStatusSchema.optional(),
  }),
  /** Found in outbox/ with a folder of it in archive/: a replay of a finished job, never started. */
  z.object({ event: z.literal("archived"), job_id: z.string(), at: IsoTimeSchema }),
  z.object({
    event: z.literal("finished"),
    job_id: z.string(),
    at: IsoTimeSchema,
    status: TerminalStatusSchema,
  }),
  z.object({ event: z.literal("cleaned"), job_id: z.string(), at: IsoTimeSchema }),
]);
export type LedgerRecord = z.infer<typeof LedgerRecordSchema>;

/** Everything the ledger knows about one job id. */
export interface LedgerEntry {
  job_id: string;
  accepted_at: string;
  /**
   * The job as first published (queued), or its final form when it was refused. Dropped once a run has
   * finished (and for refused jobs once cleaned): recovery never needs it again, and at 10,000 jobs the
   * full job objects were most of the runner's memory.
   */
  job?: Job;
  refused: boolean;
  started_at?: string;
  /** The run has a supervisor and a run folder (false: started by runner 0.1, pid only). */
  supervised?: boolean;
  pid?: number;
  /** Why the runner is ending the run, once it decided to. */
  stop?: z.infer<typeof StopReasonSchema> & { at: string };
  /** Times a started run was taken back because it never launched. */
  requeues?: number;
  /** Live elsewhere or unknowable: never started or changed by this runner. */
  foreign?: boolean;
  finished_at?: string;
  status?: TerminalStatus;
  cleaned_at?: string;
}

export interface Ledger {
  readonly path: string;
  /** The ledger had no records when opened: a new or lost state folder. */
  readonly fresh: boolean;
  get(jobId: string): LedgerEntry | undefined;
  entries(): LedgerEntry[];
  /** Appends records durably (one write + fsync) and applies them; appends are serialized. */
  append(record: LedgerRecord | readonly LedgerRecord[]): Promise<void>;
  close(): Promise<void>;
}

function apply(entries: Map<string, LedgerEntry>, record: LedgerRecord): void {
  if (record.event === "imported") {
    entries.set(record.job_id, {
      job_id: record.job_id,
      accepted_at: record.at,
      refused: false,
      ...(record.status ? { finished_at: record.at, status: record.status } : { foreign: true }),
    });
    return;
  }
  if (record.event === "archived") {
    entries.set(record.job_id, {
      job_id: record.job_id,
      accepted_at: record.at,
      refused: false,
      foreign: true,
    });
    return;
  }
  if (record.event === "accepted" || record.event === "refused") {
    const refused = record.event === "refused";
    entries.set(record.job_id, {
      job_id: record.job_id,
      accepted_at: record.at,
      job: record.job,
      refused,
      ...(refused ? { finished_at: record.at, status: record.status } : {}),
    });
    return;
  }
  const entry = entries.get(record.job_id);
  if (!entry) return;
  if (record.event === "started") {
    entry.started_at = record.at;
    entry.supervised = record.supervised === true;
  } else if (record.event === "pid") entry.pid = record.pid;
  else if (record.event === "stopping") entry.stop = { ...record.reason, at: record.at };
  else if (record.event === "requeued") {
    delete entry.started_at;
    delete entry.stop;
    entry.requeues = (entry.requeues ?? 0) + 1;
  } else if (record.event === "finished") {
    entry.finished_at = record.at;
    entry.status = record.status;
    delete entry.job;
  } else {
    entry.cleaned_at = record.at;
    delete entry.job;
  }
}

/** A damaged line's job id, when one can still be read from it. */
function damagedJobId(line: string): string | undefined {
  return /"job_id":"([^"\\]{1,200})"/.exec(line)?.[1];
}

/**
 * Parses ledger text. A torn last line (the runner died mid-append) is dropped; other bad lines are
 * reported, and a job named only by a damaged line is kept as `foreign` (never started from here):
 * a record that cannot be read resolves toward "do not run".
 */
export function parseLedger(
  text: string,
  warn: (message: string) => void = () => {},
): Map<string, LedgerEntry> {
  const entries = new Map<string, LedgerEntry>();
  const damaged = new Map<string, string>();
  const lines = text.split("\n");
  const lastIndex = text.endsWith("\n") ? lines.length - 2 : lines.length - 1;
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    let parsed: ReturnType<typeof LedgerRecordSchema.safeParse> | undefined;
    try {
      parsed = LedgerRecordSchema.safeParse(JSON.parse(line));
    } catch {
      parsed = undefined;
    }
    if (parsed?.success) {
      apply(entries, parsed.data);
      return;
    }
    if (index === lastIndex) return;
    warn(`ledger line ${index + 1} is ${parsed ? "not a ledger record" : "not JSON"}; skipped`);
    const jobId = damagedJobId(line);
    if (jobId !== undefined) damaged.set(jobId, `line ${index + 1}`);
  });
  for (const [jobId, where] of damaged) {
    if (entries.has(jobId)) continue;
    warn(`${jobId} is named only by the damaged ledger ${where}: it is never started from here`);
    entries.set(jobId, {
      job_id: jobId,
      accepted_at: new Date(0).toISOString(),
      refused: false,
      foreign: true,
    });
  }
  return entries;
}

export async function openLedger(
  stateDir: string,
  warn: (message: string) => void = () => {},
): Promise<Ledger> {
  const path = join(stateDir, LEDGER_FILE);
  let text = "";
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (errnoCode(error) !== "ENOENT") throw error;
  }
  const entries = parseLedger(text, warn);
  const handle = await open(path, "a");
  let chain: Promise<void> = Promise.resolve();
  // A torn last line (a crash, or a write the disk cut short) must not glue itself to the next record.
  let torn = text.length > 0 && !text.endsWith("\n");
  return {
    path,
    fresh: text.trim().length === 0,
    get: (jobId) => entries.get(jobId),
    entries: () => [...entries.values()],
    append(input) {
      const records: readonly LedgerRecord[] = Array.isArray(input) ? input : [input as LedgerRecord];
      const body = records.map((record) => `${JSON.stringify(LedgerRecordSchema.parse(record))}\n`).join("");
      const write = chain.then(async () => {
        const line = `${torn ? "\n" : ""}${body}`;
        try {
          await writeAll(handle, Buffer.from(line), path);
          await handle.datasync();
        } catch (error) {
          torn = true;
          throw error;
        }
        torn = false;
        for (const record of records) apply(entries, record);
      });
      chain = write.catch(() => undefined);
      return write;
    },
    async close() {
      await chain;
      await handle.close();
    },
  };
}
