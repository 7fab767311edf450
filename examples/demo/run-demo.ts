// `npm run demo`: the whole flow on one machine. Both sides share one local queue folder (no
// Syncthing), a real runner runs the example study, and a real MCP client drives the server over stdio
// exactly as an agent would: submit, wait with progress, fetch results.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";

const CHECKOUT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(CHECKOUT, "bin", "atomizer-jobs.js");
const STUDY = join(CHECKOUT, "examples", "mirror-wfe-study");

interface Options {
  dir: string | undefined;
  trials: number;
  python: string | undefined;
}

interface PythonCheck {
  python: string;
  optuna: boolean;
  matplotlib: boolean;
}

const say = (line = "") => process.stdout.write(`${line}\n`);

function canImport(python: string, module: string): boolean {
  try {
    execFileSync(python, ["-c", `import ${module}`], { stdio: "ignore", timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/** The first Python that has Optuna, else the first that runs at all (the demo still shows the flow). */
function findPython(preferred: string | undefined): PythonCheck | undefined {
  const candidates = [preferred, process.env.ATOMIZER_PYTHON, "python3", "/usr/bin/python3", "python"].filter(
    (c): c is string => Boolean(c),
  );
  let fallback: PythonCheck | undefined;
  for (const python of candidates) {
    if (!canImport(python, "sys")) continue;
    const check = {
      python,
      optuna: canImport(python, "optuna"),
      matplotlib: canImport(python, "matplotlib"),
    };
    if (check.optuna) return check;
    fallback ??= check;
  }
  return fallback;
}

/** The two key pairs of docs/deployment.md ("Signed jobs"), in the demo folder, outside the queue. */
interface DemoKeys {
  submitter: string;
  workstation: string;
}

function makeKeys(root: string): DemoKeys {
  const dir = join(root, "keys");
  for (const name of ["submitter", "workstation"])
    execFileSync(process.execPath, [CLI, "keygen", "--out", dir, "--name", name], { stdio: "ignore" });
  return { submitter: join(dir, "submitter"), workstation: join(dir, "workstation") };
}

function startRunner(queue: string, root: string, python: string, keys: DemoKeys): ChildProcess {
  const args = [
    CLI,
    "runner",
    "--queue",
    queue,
    "--work",
    join(root, "work"),
    "--state",
    join(root, "state"),
    // Runs only jobs the demo's MCP server signed, and signs what it reports back.
    "--trust-key",
    `${keys.submitter}.pub`,
    "--signing-key",
    `${keys.workstation}.key`,
  ];
  args.push("--python", python, "--heartbeat", "1", "--rescan", "5", "--host", "demo-workstation");
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  const lines: string[] = [];
  child.stderr?.on("data", (chunk: Buffer) =>
    lines.push(...chunk.toString("utf8").split("\n").filter(Boolean)),
  );
  child.once("exit", (code, signal) => {
    if (code !== 0 && signal !== "SIGTERM") {
      process.stderr.write(
        `runner stopped unexpectedly (${code ?? signal}):\n${lines.slice(-20).join("\n")}\n`,
      );
    }
  });
  return child;
}

type Structured = Record<string, unknown>;

async function call(
  client: Client,
  name: string,
  args: Structured,
  onprogress?: (progress: Progress) => void,
): Promise<Structured> {
  const result = await client.callTool({ name, arguments: args }, undefined, {
    timeout: 120_000,
    ...(onprogress ? { onprogress } : {}),
  });
  const text = (result.content as Array<{ type: string; text?: string }>)
    .filter((c) => c.type === "text")
    .map((c) => c.text)
    .join("\n");
  if (result.isError) throw new Error(`${name} refused: ${text}`);
  return (result.structuredContent ?? {}) as Structured;
}

function progressLine(job: Structured): string {
  const progress = job.progress as Structured | undefined;
  if (job.state !== "running" || !progress) return `  ${job.state}`;
  const done = progress.trials_complete ?? 0;
  const planned = progress.trials_planned ?? "?";
  const best = typeof progress.best_value === "number" ? `, best ${progress.best_value.toFixed(3)} nm` : "";
  return `  running: ${done}/${planned} trials${best}`;
}

function isSettled(job: Structured): boolean {
  if (job.state === "failed" || job.state === "cancelled" || job.state === "archived") return true;
  return job.state === "completed" && (job.results as Structured | undefined)?.complete === true;
}

/**
 * wait_for_job returns on state changes; the trials done in between arrive as progress
 * notifications (the client's onprogress), as they would for an agent's client.
 */
async function waitUntilSettled(client: Client, jobId: string): Promise<Structured> {
  let seq = 0;
  let last = "";
  const showProgress = (progress: Progress) =>
    say(`  ${progress.message ?? `${progress.progress} trials done`}`);
  for (;;) {
    const waited = await call(client, "wait_for_job", { job_id: jobId, seq, timeout_s: 40 }, showProgress);
    const job = waited.job as Structured;
    seq = typeof job.seq === "number" ? job.seq : seq;
    const line = progressLine(job);
    if (line !== last) say(line);
    last = line;
    if (isSettled(job)) return job;
  }
}

function printResults(results: Structured, queue: string): void {
  const studies = (results.study as Structured[] | undefined) ?? [];
  for (const study of studies) {
    const trials = study.trials as Record<string, number>;
    say(`study ${study.study_name}: ${study.trials_total} trials (${JSON.stringify(trials)})`);
    for (const best of (study.best as Structured[]) ?? []) {
      say(`best ${best.direction} value: ${best.value} (trial ${best.trial_number})`);
      for (const [name, value] of Object.entries((best.params as Structured) ?? {}))
        say(`  ${name} = ${value}`);
    }
  }
  if (results.study_error) say(`study.db: ${results.study_error}`);
  const workDir = String(results.work_dir);
  for (const image of (results.images as Structured[] | undefined) ?? [])
    say(`plot: ${join(workDir, String(image.path))}`);
  for (const plot of (results.plots as Structured[] | undefined) ?? [])
    say(`plot from study.db: ${join(workDir, String(plot.path))}`);
  if (results.report) say(`report page: ${results.report}`);
  say(`results from the workstation: runner signature ${results.runner_signature ?? "not reported"}`);
  say(`working copy: ${workDir}`);
  say(`queue: ${queue}`);
}

async function demo(options: Options): Promise<number> {
  const root = options.dir ? resolve(options.dir) : await mkdtemp(join(tmpdir(), "atomizer-demo-"));
  const queue = join(root, "queue");
  execFileSync(process.execPath, [CLI, "init", "--queue", queue], { stdio: "ignore" });
  say(`demo folder: ${root}`);

  const check = findPython(options.python);
  if (!check) {
    say(
      "No python3 found: the runner needs one. Install python3, then python3-optuna and python3-matplotlib.",
    );
    return 1;
  }
  if (!check.optuna || !check.matplotlib) {
    const missing = [!check.optuna && "optuna", !check.matplotlib && "matplotlib"]
      .filter(Boolean)
      .join(" and ");
    say(
      `NOTE: ${check.python} has no ${missing}. Install ${missing.includes(" and ") ? "them" : "it"} to see a real study:`,
    );
    say("  Debian/Ubuntu: sudo apt-get install python3-optuna python3-matplotlib");
    say("  elsewhere:     python3 -m pip install optuna matplotlib");
    say("The demo goes on: the job will fail on the runner, and you will see how a failure is reported.");
  }
  say(`runner: python ${check.python}`);

  const keys = makeKeys(root);
  const runner = startRunner(queue, root, check.python, keys);
  const client = new Client({ name: "atomizer-demo", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [
        CLI,
        "mcp",
        "--queue",
        queue,
        "--allow",
        join(CHECKOUT, "examples"),
        "--work",
        join(root, "fetched"),
        "--signing-key",
        `${keys.submitter}.key`,
        "--trust-key",
        `${keys.workstation}.pub`,
      ],
      env: {
        ...(process.env as Record<string, string>),
        ATOMIZER_AGENT: "study-builder",
        ATOMIZER_ROLE: "admin",
      },
      stderr: "ignore",
    }),
  );
  try {
    const tools = await client.listTools();
    say(`MCP server up: ${tools.tools.map((t) => t.name).join(", ")}`);
    const submitted = await call(client, "submit_job", {
      study_dir: STUDY,
      name: "mirror wfe demo",
      project: "starspec-m1-wfe",
      channel: "#starspec-m1-wfe",
      args: ["--trials", String(options.trials), "--trial-delay", "0.05"],
      timeout_s: 900,
    });
    const jobId = String(submitted.job_id);
    say(
      `submitted ${jobId} (${submitted.files} files, ${submitted.bytes} bytes, signed by ${submitted.signed_by ?? "nobody"})`,
    );
    const job = await waitUntilSettled(client, jobId);
    if (job.state !== "completed") {
      const error = job.error as Structured | undefined;
      say(`job ${job.state}: ${error?.kind ?? ""} ${error?.message ?? ""}`);
      for (const line of (job.log_tail as string[] | undefined) ?? []) say(`  | ${line}`);
      return check.optuna ? 1 : 0;
    }
    const results = await call(client, "fetch_results", { job_id: jobId });
    printResults(results, queue);
    return 0;
  } finally {
    await client.close();
    runner.kill("SIGTERM");
  }
}

const { values } = parseArgs({
  options: {
    dir: { type: "string" },
    trials: { type: "string", default: "30" },
    python: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  say("usage: npm run demo -- [--dir DIR] [--trials N] [--python PATH]");
  process.exitCode = 0;
} else {
  const trials = Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1) {
    process.stderr.write(`--trials ${values.trials}: expected a whole number >= 1\n`);
    process.exitCode = 2;
  } else {
    process.exitCode = await demo({ dir: values.dir, trials, python: values.python });
  }
}
