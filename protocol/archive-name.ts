import { parseUtcStamp, utcStamp } from "./utc-stamp.ts";

const ARCHIVE_NAME = /^(.+)-(\d{8})T(\d{6})Z$/;

/** `<job_id>-YYYYMMDDTHHMMSSZ`, the archive folder name PROTOCOL.md section 8 prescribes. */
export function archiveDirName(jobId: string, at: Date): string {
  const stamp = utcStamp(at);
  if (!stamp) throw new RangeError(`archive time ${String(at)} is not a valid date with a 4-digit year`);
  return `${jobId}-${stamp.date}T${stamp.time}Z`;
}

export interface ArchiveDirName {
  job_id: string;
  archived_at: string;
}

/** The job id and UTC time an archive folder name carries, or undefined when it is not one. */
export function parseArchiveDirName(name: string): ArchiveDirName | undefined {
  const match = ARCHIVE_NAME.exec(name);
  if (!match) return undefined;
  const [, jobId, date, time] = match as unknown as [string, string, string, string];
  const at = parseUtcStamp(date, time);
  return at ? { job_id: jobId, archived_at: at.toISOString().replace(/\.\d{3}Z$/, "Z") } : undefined;
}
