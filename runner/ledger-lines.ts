import { createReadStream } from "node:fs";
import type { LedgerEntry, LedgerRecord } from "./ledger-records.ts";
import { applyRecord, foreignEntry, LedgerRecordSchema } from "./ledger-records.ts";

// The rules for a ledger.jsonl (runner 0.1 up to the SQLite ledger): one JSON record per line.

/** What reading a ledger.jsonl found besides its records. */
export interface LedgerLinesRead {
  /** Lines that were not blank: a file with any is not a new ledger, even if none could be read. */
  contentLines: number;
  records: number;
  /** Job ids named only by damaged lines, with where: the caller keeps them as foreign. */
  damaged: Map<string, string>;
}

/** A damaged line's job id, when one can still be read from it. */
function damagedJobId(line: string): string | undefined {
  return /"job_id":"([^"\\]{1,200})"/.exec(line)?.[1];
}

/**
 * Reads lines one at a time. A torn last line (the runner died mid-append) is dropped; other bad
 * lines are reported, and the job ids they name are collected: a record that cannot be read resolves
 * toward "do not run".
 */
function lineReader(onRecord: (record: LedgerRecord) => void, warn: (message: string) => void) {
  const read: LedgerLinesRead = { contentLines: 0, records: 0, damaged: new Map() };
  return {
    read,
    line(line: string, index: number, last: boolean): void {
      if (line.trim() === "") return;
      read.contentLines++;
      let parsed: ReturnType<typeof LedgerRecordSchema.safeParse> | undefined;
      try {
        parsed = LedgerRecordSchema.safeParse(JSON.parse(line));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success) {
        read.records++;
        onRecord(parsed.data);
        return;
      }
      if (last) return;
      warn(`ledger line ${index + 1} is ${parsed ? "not a ledger record" : "not JSON"}; skipped`);
      const jobId = damagedJobId(line);
      if (jobId !== undefined) read.damaged.set(jobId, `line ${index + 1}`);
    },
  };
}

/** When a job named only by damaged lines was "accepted": the epoch, since no record says. */
export const DAMAGED_AT = new Date(0).toISOString();

export function damagedWarning(jobId: string, where: string): string {
  return `${jobId} is named only by the damaged ledger ${where}: it is never started from here`;
}

/** Parses ledger text into each job's entry (the rules of readLedgerFile, on a string). */
export function parseLedger(
  text: string,
  warn: (message: string) => void = () => {},
): Map<string, LedgerEntry> {
  const entries = new Map<string, LedgerEntry>();
  const reader = lineReader((record) => {
    const entry = applyRecord(entries.get(record.job_id), record);
    if (entry) entries.set(record.job_id, entry);
  }, warn);
  const lines = text.split("\n");
  const lastIndex = text.endsWith("\n") ? lines.length - 2 : lines.length - 1;
  lines.forEach((line, index) => {
    reader.line(line, index, index === lastIndex);
  });
  for (const [jobId, where] of reader.read.damaged) {
    if (entries.has(jobId)) continue;
    warn(damagedWarning(jobId, where));
    entries.set(jobId, foreignEntry(jobId, DAMAGED_AT));
  }
  return entries;
}

/**
 * Streams a ledger.jsonl line by line (a 100,000-job ledger is never one string), giving each record
 * to `onRecord` in order. The caller resolves the damaged ids it does not know.
 */
export async function readLedgerFile(
  file: string,
  onRecord: (record: LedgerRecord) => void,
  warn: (message: string) => void,
): Promise<LedgerLinesRead> {
  const reader = lineReader(onRecord, warn);
  let rest: Buffer = Buffer.alloc(0);
  // One line held back: only once the next one arrives is it known not to be the last.
  let held: string | undefined;
  let index = 0;
  const take = (line: string): void => {
    if (held !== undefined) reader.line(held, index++, false);
    held = line;
  };
  for await (const chunk of createReadStream(file)) {
    const buffer = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (let end = buffer.indexOf(10, start); end >= 0; end = buffer.indexOf(10, start)) {
      take(buffer.toString("utf8", start, end));
      start = end + 1;
    }
    rest = Buffer.from(buffer.subarray(start));
  }
  // Text after the last newline is the last line; a file ending in a newline ends with the held one.
  if (rest.length > 0) take(rest.toString("utf8"));
  if (held !== undefined) reader.line(held, index, true);
  return reader.read;
}
