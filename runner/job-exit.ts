/** How a job's script ended, as its supervisor recorded it (or the runner decided, when nothing was recorded). */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the script could not be started at all (interpreter not found, ...). */
  spawnError?: string;
  /** When the script ended, as its supervisor recorded it. */
  endedAt?: string;
}
