/** A CLI command: loaded only when used, so `mcp` never loads the runner and vice versa. */
export interface Command {
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

/** Every `atomizer-jobs` command. Each module exports `run(argv): Promise<exit code>`. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  init: {
    summary: "create a queue folder layout (outbox/, inbox/, archive/, .stignore)",
    load: () => import("./init-command.ts"),
  },
  keygen: {
    summary: "write an Ed25519 key pair that signs jobs (or the runner's records)",
    load: () => import("./keygen-command.ts"),
  },
  mcp: {
    summary: "serve the MCP tools over stdio or Streamable HTTP",
    load: () => import("./submitter/mcp-command.ts"),
  },
  submit: {
    summary: "submit a study folder as a job",
    load: () => import("./submitter/submit-command.ts"),
  },
  status: { summary: "show one job's state", load: () => import("./submitter/status-command.ts") },
  list: { summary: "list jobs", load: () => import("./submitter/list-command.ts") },
  wait: {
    summary: "wait for a job to change, showing progress",
    load: () => import("./submitter/wait-command.ts"),
  },
  results: {
    summary: "fetch a finished job's results",
    load: () => import("./submitter/results-command.ts"),
  },
  dashboard: {
    summary: "serve a live, read-only page of the queue in the browser",
    load: () => import("./submitter/dashboard-command.ts"),
  },
  log: { summary: "print a job's stdout.log", load: () => import("./submitter/log-command.ts") },
  cancel: {
    summary: "ask the runner to cancel a job",
    load: () => import("./submitter/cancel-command.ts"),
  },
  archive: { summary: "archive a finished job", load: () => import("./submitter/archive-command.ts") },
  runners: {
    summary: "show the runners seen and their jobs",
    load: () => import("./submitter/runners-command.ts"),
  },
  "nats-setup": {
    summary: "create the queue's streams, buckets and licence pools on a NATS server (idempotent)",
    load: () => import("./nats-setup-command.ts"),
  },
  "nats-requeue": {
    summary: "put a job whose runner host will not come back into the NATS queue again",
    load: () => import("./nats-requeue-command.ts"),
  },
  runner: {
    summary: "run jobs on this host (the NX workstation)",
    load: () => import("./runner/runner-command.ts"),
  },
  doctor: { summary: "check this host can run jobs", load: () => import("./runner/doctor-command.ts") },
  service: {
    summary: "Windows: install, remove or show the runner's boot task (Task Scheduler)",
    load: () => import("./runner/service-command.ts"),
  },
};
