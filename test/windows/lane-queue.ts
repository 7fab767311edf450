import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";

/** The Linux side of the lane: the submitting host's CLI, run with this (Linux) Node. */
export interface LinuxSide {
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  submit(
    study: string,
    name: string,
    options?: { script?: string; type?: string; timeout?: number; args?: string[]; cliOptions?: string[] },
  ): Promise<string>;
  job(jobId: string): Promise<Record<string, unknown> | undefined>;
  waitJob(
    jobId: string,
    ok: (job: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>>;
}

/** `--queue` goes before a `--` (what follows it is the script's own arguments). */
function withQueue(args: string[], queue: string): string[] {
  const end = args.indexOf("--");
  return end < 0
    ? [...args, "--queue", queue]
    : [...args.slice(0, end), "--queue", queue, ...args.slice(end)];
}

export function linuxSide(repo: string, queue: string): LinuxSide {
  const bin = path.join(repo, "bin", "atomizer-jobs.js");
  const cli: LinuxSide["cli"] = (args) =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [bin, ...withQueue(args, queue)],
        { timeout: 60_000 },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const job: LinuxSide["job"] = async (jobId) => {
    try {
      return JSON.parse(await readFile(path.join(queue, "inbox", jobId, "job.json"), "utf8"));
    } catch {
      return undefined;
    }
  };
  return {
    cli,
    job,
    async submit(study, name, options = {}) {
      const args = ["submit", study, "--name", name, "--project", "windows-lane", "--json"];
      if (options.script) args.push("--script", options.script);
      if (options.type) args.push("--type", options.type);
      if (options.timeout) args.push("--timeout", String(options.timeout));
      if (options.cliOptions) args.push(...options.cliOptions);
      if (options.args) args.push("--", ...options.args);
      const result = await cli(args);
      if (result.code !== 0) throw new Error(`submit ${name}: ${result.stderr || result.stdout}`);
      return JSON.parse(result.stdout).job_id as string;
    },
    async waitJob(jobId, ok, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const seen = await job(jobId);
        if (seen && ok(seen)) return seen;
        if (Date.now() > deadline)
          throw new Error(`${jobId}: timed out; last job.json ${JSON.stringify(seen ?? null).slice(0, 400)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
  };
}

export const isFinal = (job: Record<string, unknown>) =>
  ["completed", "failed", "cancelled"].includes(String(job.status));
