// Runners as their own `atomizer-jobs runner --nats` processes, each with its own work and state
// folders under `<base>/<host>/` (and so its own local queue, <state>/nats-queue).
import path from "node:path";
import type { CliProcess } from "../../../helpers/atomizer-jobs.ts";
import { startAtomizerJobs } from "../../../helpers/atomizer-jobs.ts";

export interface NatsRunnerSpec {
  url: string;
  base: string;
  host: string;
  slots?: number;
  extra?: string[];
}

export function runnerFolders(base: string, host: string) {
  const root = path.join(base, host);
  const state = path.join(root, "state");
  return { work: path.join(root, "work"), state, queue: path.join(state, "nats-queue") };
}

/** `atomizer-jobs runner --nats URL` with python3 and fast heartbeats and rescans. */
export function startNatsRunner(spec: NatsRunnerSpec): CliProcess {
  const folders = runnerFolders(spec.base, spec.host);
  return startAtomizerJobs([
    "runner",
    "--nats",
    spec.url,
    "--work",
    folders.work,
    "--state",
    folders.state,
    "--host",
    spec.host,
    "--python",
    "python3",
    "--slots",
    String(spec.slots ?? 1),
    "--heartbeat",
    "0.3",
    "--rescan",
    "0.3",
    ...(spec.extra ?? []),
  ]);
}

/**
 * The chaos job: appends `<job_id> <host> <pid> start <ms>` to LOG, sleeps SECONDS, writes a result
 * file, appends `... end <ms>`. The host is the runner's folder under the test's base (its work dir's
 * parent), so the log says where each job ran.
 */
export const CHAOS_JOB = `import os, sys, time
log, seconds = sys.argv[1], float(sys.argv[2])
job = os.environ["ATOMIZER_JOB_ID"]
host = os.path.basename(os.path.dirname(os.path.dirname(os.environ["ATOMIZER_JOB_DIR"])))
def line(what):
    with open(log, "a", encoding="utf-8") as handle:
        handle.write("%s %s %d %s %d\\n" % (job, host, os.getpid(), what, int(time.time() * 1000)))
line("start")
time.sleep(seconds)
results = os.environ["ATOMIZER_RESULTS_DIR"]
os.makedirs(results, exist_ok=True)
with open(os.path.join(results, "answer.txt"), "w", encoding="utf-8") as handle:
    handle.write((job + " ran on " + host + "\\n") * 200)
line("end")
`;

export interface LogLine {
  job: string;
  host: string;
  pid: number;
  what: "start" | "end";
  ms: number;
}

export function parseChaosLog(text: string): LogLine[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [job, host, pid, what, ms] = line.split(" ");
      return {
        job: job ?? "",
        host: host ?? "",
        pid: Number(pid),
        what: what as "start" | "end",
        ms: Number(ms),
      };
    });
}

/**
 * The most start..end intervals open at once; a start without an end counts as open to the end of
 * the log (the conservative reading).
 */
export function maxConcurrency(lines: readonly Pick<LogLine, "what" | "ms">[]): number {
  const events = lines.map((line) => ({ ms: line.ms, delta: line.what === "start" ? 1 : -1 }));
  // At equal times ends go first: an end and a start in the same millisecond do not overlap.
  events.sort((a, b) => a.ms - b.ms || a.delta - b.delta);
  let open = 0;
  let most = 0;
  for (const event of events) {
    open += event.delta;
    most = Math.max(most, open);
  }
  return most;
}
