import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initQueue } from "../protocol/index.ts";
import { ROLES } from "../submitter/config/roles.ts";
import type { Benchmark, BenchResult } from "./bench-result.ts";
import type { McpSession } from "./mcp-session.ts";
import { BIN, openMcpSession } from "./mcp-session.ts";
import { sessionsBenchmark } from "./p8-sessions.ts";
import { summarize } from "./stats.ts";

const TOOLS_LIST_BUDGET = 10_000;
const MAX_WAIT_S = 45;
const STUDY = fileURLToPath(new URL("../examples/mirror-wfe-study", import.meta.url));

interface Follow {
  calls: number;
  seconds: number;
}

/** The characters of JSON each role's agent receives from tools/list (what it pays for every turn). */
async function toolsListSizes(scratch: string): Promise<Record<string, number>> {
  const queue = await initQueue(join(scratch, "p8-list-queue"));
  const sizes: Record<string, number> = {};
  for (const role of ROLES) {
    const session = await openMcpSession(["--queue", queue.root, "--allow", scratch, "--role", role], {
      stateDir: join(scratch, `p8-server-state-${role}`),
    });
    try {
      const { tools } = await session.client.listTools();
      sizes[role] = JSON.stringify({ tools }).length;
    } finally {
      await session.close();
    }
  }
  return sizes;
}

/** The demo's runner: heartbeat 1 s, so progress moves about once a second. */
function startRunner(scratch: string, queueRoot: string, python: string): ChildProcess {
  return spawn(
    process.execPath,
    [
      BIN,
      "runner",
      "--queue",
      queueRoot,
      "--work",
      join(scratch, "p8-runner-work"),
      "--state",
      join(scratch, "p8-runner-state"),
      "--python",
      python,
      "--heartbeat",
      "1",
      "--rescan",
      "5",
      "--host",
      "bench-workstation",
    ],
    { stdio: ["ignore", "ignore", "ignore"] },
  );
}

/** Submits one study and follows it with wait_for_job (as the demo does) until its state is final. */
async function followJob(
  session: McpSession,
  name: string,
  trials: number,
  waitArgs: Record<string, unknown>,
): Promise<Follow> {
  const started = Date.now();
  const submitted = await session.call("submit_job", {
    study_dir: STUDY,
    name,
    project: "bench-waits",
    args: ["--trials", String(trials), "--trial-delay", "0.05"],
    timeout_s: 600,
  });
  const jobId = (submitted.structuredContent as { job_id: string }).job_id;
  let seq = 0;
  let calls = 0;
  for (;;) {
    const result = await session.call("wait_for_job", {
      job_id: jobId,
      seq,
      timeout_s: MAX_WAIT_S,
      ...waitArgs,
    });
    calls++;
    const job = (result.structuredContent as { job: { state: string; seq: number } }).job;
    seq = job.seq;
    if (["completed", "failed", "cancelled", "archived"].includes(job.state)) {
      if (job.state !== "completed") throw new Error(`${jobId} ended ${job.state}`);
      return { calls, seconds: (Date.now() - started) / 1000 };
    }
  }
}

function describeFollows(follows: readonly Follow[]): string {
  const calls = summarize(follows.map((f) => f.calls));
  const seconds = summarize(follows.map((f) => f.seconds));
  return `${calls.median} calls (${calls.min}-${calls.max}, n=${calls.runs}) for a job of ${seconds.median.toFixed(1)} s (${seconds.min.toFixed(1)}-${seconds.max.toFixed(1)})`;
}

/**
 * P8: what the MCP surface costs an agent: the tools/list each role receives, and the wait_for_job
 * calls it takes to follow one job from submit to completed over a real runner.
 */
export const mcpSurfaceBenchmark: Benchmark = async ({ quick, scratch, python, log }) => {
  const sizes = await toolsListSizes(scratch);
  const sessions = await sessionsBenchmark(scratch, quick);
  const largest = Math.max(...Object.values(sizes));
  const listRow: BenchResult = {
    id: "P8 tools/list",
    what: "tools/list JSON per role through a real MCP client (stdio): characters an agent receives",
    figure: ROLES.map((role) => `${role} ${sizes[role]}`).join(", "),
    baseline: "-",
    ratio: `largest ${largest} / ${TOOLS_LIST_BUDGET}`,
    goal: `every role <= ${TOOLS_LIST_BUDGET} chars`,
    verdict: quick ? "n/a" : largest <= TOOLS_LIST_BUDGET ? "met" : "missed",
    notes: [
      "Measured as JSON.stringify({tools}) of the listTools() result; test/submitter/mcp/tool-budget.test.ts fails past the budget.",
      "Before issue 13 (the SDK's McpServer tool layer, full zod schemas, the status view restated for wait_for_job), the same benchmark measured submitter 27566, observer 23584, processor 28104, admin 32086, and the MCP Inspector CLI --strict warned 28 times (23 type unions, 5 untyped schemas); it warns 0 times now.",
      "Measured by tests, not timed, for the same issue: the error-shape table (test/submitter/mcp/error-shape.test.ts, 47 rows of every tool x missing field, wrong type, oversized input, unknown id, and unknown tools) had 36 rows breaking the `error (<code>): ... / next: ...` text before (SDK input-validation messages, unknown tools, 200,000-character inputs echoed) and none with {code, message, next}; 0 now. The conformance suite's 9 applicable server scenarios (test/submitter/mcp/conformance.test.ts): 4 failed before (dns-rebinding-protection, resources-subscribe, resources-unsubscribe, logging-set-level), 0 now.",
    ],
  };
  if (!python) {
    return [
      listRow,
      sessions,
      {
        id: "P8 waits",
        what: "wait_for_job calls to follow a job from submit to completed",
        figure: "-",
        baseline: "-",
        ratio: "-",
        goal: "-",
        verdict: "skipped",
        notes: ["no python3 with optuna: the runner cannot run the example study"],
      },
    ];
  }
  const trials = quick ? 5 : 30;
  const runs = quick ? 1 : 3;
  const queue = await initQueue(join(scratch, "p8-wait-queue"));
  const runner = startRunner(scratch, queue.root, python);
  const session = await openMcpSession(["--queue", queue.root, "--allow", STUDY, "--role", "admin"], {
    stateDir: join(scratch, "p8-server-state-waits"),
  });
  const byDefault: Follow[] = [];
  const byProgress: Follow[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      byProgress.push(await followJob(session, `bench wait progress ${run}`, trials, { until: "progress" }));
      byDefault.push(await followJob(session, `bench wait default ${run}`, trials, {}));
      log(
        `P8: run ${run + 1}: ${byDefault.at(-1)?.calls} calls by default, ${byProgress.at(-1)?.calls} until progress`,
      );
    }
  } finally {
    await session.close();
    runner.kill("SIGTERM");
  }
  const worst = byDefault.every((f) => f.calls <= Math.ceil(f.seconds / MAX_WAIT_S) + 1);
  const calls = summarize(byDefault.map((f) => f.calls)).median;
  const baseCalls = summarize(byProgress.map((f) => f.calls)).median;
  return [
    listRow,
    sessions,
    {
      id: "P8 waits",
      what: `wait_for_job calls (timeout_s ${MAX_WAIT_S}, passing the returned seq) to follow a ${trials}-trial example study from submit_job to completed; real runner in a child process (heartbeat 1 s, as in the demo)`,
      figure: `default: ${describeFollows(byDefault)}`,
      baseline: `"until": "progress" (the earlier default): ${describeFollows(byProgress)}`,
      ratio: `${(calls / baseCalls).toFixed(2)}`,
      goal: `every run <= ceil(duration / ${MAX_WAIT_S} s) + 1 calls`,
      verdict: quick ? "n/a" : worst ? "met" : "missed",
      notes: [
        "Duration is from just before submit_job to the wait_for_job reply that shows the final state; the runner picks the job up from the same local folder (no Syncthing).",
        "Before issue 13 wait_for_job returned on every progress move; the same benchmark then measured 9 calls (9-11, n=3) for a job of 7.8 s (7.0-10.3) by default. Now the default returns on state changes (queued and running close together are one return) and sends progress as notifications/progress.",
      ],
    },
  ];
};
