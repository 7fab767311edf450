import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { Job } from "../protocol/index.ts";
import { errnoCode, JobSchema } from "../protocol/index.ts";

/** The ledger file in the state folder: one JSON record per line, appended and fsynced, never rewritten. */
export const LEDGER_FILE = "ledger.jsonl";

const IsoTime = z.iso.datetime({ offset: true });
const TerminalStatus = z.enum(["completed", "failed", "cancelled"]);

/**
 * What the ledger records. `accepted` is written before the job is published as queued, `started` before
 * its process is spawned, so after any crash a job is either known (never run again) or never seen.
 */
export const LedgerRecordSchema = z.discriminatedUnion("event", [
  z.object({ event: z.literal("accepted"), job_id: z.string(), at: IsoTime, job: JobSchema }),
  /** Closed before it could run: rejected, incomplete or cancelled. `job` is its final inbox job.json. */
  z.object({
    event: z.literal("refused"),
    job_id: z.string(),
    at: IsoTime,
    status: TerminalStatus,
    job: JobSchema,
  }),
  z.object({ event: z.literal("started"), job_id: z.string(), at: IsoTime }),
  z.object({ event: z.literal("pid"), job_id: z.string(), at: IsoTime, pid: z.number().int().positive() }),
  z.object({ event: z.literal("finished"), job_id: z.string(), at: IsoTime, status: TerminalStatus }),
  z.object({ event: z.literal("cleaned"), job_id: z.string(), at: IsoTime }),
]);
export type LedgerRecord = z.infer<typeof LedgerRecordSchema>;
export type TerminalStatus = z.infer<typeof TerminalStatus>;

/** The status as a ledger terminal status, or undefined while the job is still live. */
export function asTerminalStatus(status: string): TerminalStatus | undefined {
  const parsed = TerminalStatus.safeParse(status);
  return parsed.success ? parsed.data : undefined;
}

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
  pid?: number;
  finished_at?: string;
  status?: TerminalStatus;
  cleaned_at?: string;
}

export interface Ledger {
  readonly path: string;
  get(jobId: string): LedgerEntry | undefined;
  entries(): LedgerEntry[];
  /** Appends one record durably (write + fsync) and applies it; appends are serialized. */
  append(record: LedgerRecord): Promise<void>;
  close(): Promise<void>;
}

function apply(entries: Map<string, LedgerEntry>, record: LedgerRecord): void {
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
  if (record.event === "started") entry.started_at = record.at;
  else if (record.event === "pid") entry.pid = record.pid;
  else if (record.event === "finished") {
    entry.finished_at = record.at;
    entry.status = record.status;
    delete entry.job;
  } else {
    entry.cleaned_at = record.at;
    delete entry.job;
  }
}

/** Parses ledger text. A torn last line (the runner died mid-append) is dropped; other bad lines are reported. */
export function parseLedger(
  text: string,
  warn: (message: string) => void = () => {},
): Map<string, LedgerEntry> {
  const entries = new Map<string, LedgerEntry>();
  const lines = text.split("\n");
  const lastIndex = text.endsWith("\n") ? lines.length - 2 : lines.length - 1;
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    let parsed: ReturnType<typeof LedgerRecordSchema.safeParse>;
    try {
      parsed = LedgerRecordSchema.safeParse(JSON.parse(line));
    } catch {
      if (index !== lastIndex) warn(`ledger line ${index + 1} is not JSON; skipped`);
      return;
    }
    if (parsed.success) apply(entries, parsed.data);
    else if (index !== lastIndex) warn(`ledger line ${index + 1} is not a ledger record; skipped`);
  });
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
  // A torn last line must not glue itself to the next record.
  if (text.length > 0 && !text.endsWith("\n")) {
    await handle.write("\n");
    await handle.datasync();
  }
  return {
    path,
    get: (jobId) => entries.get(jobId),
    entries: () => [...entries.values()],
    append(record) {
      const line = `${JSON.stringify(LedgerRecordSchema.parse(record))}\n`;
      const write = chain.then(async () => {
        await handle.write(line);
        await handle.datasync();
        apply(entries, record);
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
