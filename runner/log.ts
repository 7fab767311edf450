/** One line per event: `<ISO time> <job id or "runner"> <event>[: detail]`. */
export type Logger = (event: string, jobId?: string, detail?: string) => void;

export interface LogSink {
  write: (line: string) => unknown;
}

export function createLogger(sink: LogSink = process.stderr, now: () => Date = () => new Date()): Logger {
  return (event, jobId, detail) => {
    const oneLine = detail === undefined ? "" : `: ${detail.replace(/\s*\n\s*/g, " | ")}`;
    sink.write(`${now().toISOString()} ${jobId ?? "runner"} ${event}${oneLine}\n`);
  };
}

/** Message of any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
