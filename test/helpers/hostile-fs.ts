// Builders for the hostile corpus (test/**/hostile-*.test.ts): real special files in real temp folders.
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:net";
import { sampleJob } from "./sample-job.ts";

/** FIFOs, sockets and POSIX links are what Syncthing (or a hostile peer) can leave on the Linux side. */
export const POSIX = process.platform !== "win32";

export function mkfifo(path: string): void {
  execFileSync("mkfifo", [path]);
}

/** A listening Unix socket at `path`; close it after the test. */
export async function mkSocket(path: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  return server;
}

/** A valid submitted job.json for `jobId`, as an object to spread fields over. */
export function validJob(jobId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...sampleJob(jobId), ...extra };
}

/** The job's JSON with `bad` bytes spliced in inside the `project` string value; and their offset. */
export function withBytes(jobId: string, bad: readonly number[]): { bytes: Buffer; offset: number } {
  const text = JSON.stringify(validJob(jobId, { project: "AAAA" }), null, 2);
  const at = text.indexOf("AAAA");
  const before = Buffer.from(text.slice(0, at), "utf8");
  return {
    bytes: Buffer.concat([before, Buffer.from(bad), Buffer.from(text.slice(at + 4), "utf8")]),
    offset: before.length,
  };
}

/** A JSON value nested `depth` deep: `[[[...]]]` or `{"a":{"a":...}}`. */
export function nested(depth: number, kind: "array" | "object"): string {
  return kind === "array"
    ? `${"[".repeat(depth)}${"]".repeat(depth)}`
    : `${'{"a":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`;
}

/** A job.json text with `value` (raw JSON) under an unknown field at the top level. */
export function jobTextWith(jobId: string, field: string, value: string): string {
  const text = JSON.stringify(validJob(jobId));
  return `${text.slice(0, -1)},${JSON.stringify(field)}:${value}}`;
}

export const jobIdFor = (slug: string) => `job-20260210-143022-${slug}`;
