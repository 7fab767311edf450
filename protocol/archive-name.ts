const ARCHIVE_NAME = /^(.+)-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** `<job_id>-YYYYMMDDTHHMMSSZ`, the archive folder name PROTOCOL.md section 8 prescribes. */
export function archiveDirName(jobId: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  return `${jobId}-${stamp}`;
}

export interface ArchiveDirName {
  job_id: string;
  archived_at: string;
}

/** The job id and UTC time an archive folder name carries, or undefined when it is not one. */
export function parseArchiveDirName(name: string): ArchiveDirName | undefined {
  const match = ARCHIVE_NAME.exec(name);
  if (!match) return undefined;
  const [, jobId, y, mo, d, h, mi, s] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return { job_id: jobId, archived_at: `${y}-${mo}-${d}T${h}:${mi}:${s}Z` };
}
