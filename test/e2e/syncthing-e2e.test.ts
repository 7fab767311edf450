// The whole system as deployed (docs/deployment.md): the MCP server on side A, the runner on side B,
// two real Syncthing instances between them, real Optuna studies. Assertions are on files and tool
// outputs; waiting is done on tool calls (wait_for_job) or file states, with bounded deadlines.
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasSyncthing, SyncthingPair } from "../../bench/syncthing-pair.ts";
import { generateKeyPairFiles, initQueue } from "../../protocol/index.ts";
import { isProcessAlive } from "../../runner/tree-kill.ts";
import { findOptunaPython, requireUnderCi } from "../helpers/python.ts";
import { exists, findConflictCopies, until } from "./helpers/observers.ts";
import { callTool, connectMcp, type RunnerProcess, startRunner, stopRunner } from "./helpers/processes.ts";
import { copyExample, longRunningStudy, studyWithLargeModel } from "./helpers/studies.ts";

type Job = Record<string, unknown> & { state: string; seq: number };

const python = findOptunaPython();
const ready =
  requireUnderCi(hasSyncthing(), "syncthing (Debian package syncthing)") &&
  requireUnderCi(
    python !== undefined,
    "python3 with optuna and matplotlib (python3-optuna, python3-matplotlib)",
  );

const LARGE_MODEL_BYTES = 24 * 1024 * 1024;

describe.runIf(ready)("end to end through two real Syncthing instances", () => {
  let root: string;
  let pair: SyncthingPair;
  let client: Client;
  let runner: RunnerProcess;
  let queueA: string;
  let queueB: string;
  let runnerArgs: string[];

  const waitForJob = async (
    jobId: string,
    done: (job: Job) => boolean,
    timeoutMs = 120_000,
  ): Promise<Job> => {
    const deadline = Date.now() + timeoutMs;
    let seq = 0;
    for (;;) {
      const result = await callTool<{ job: Job }>(client, "wait_for_job", {
        job_id: jobId,
        seq,
        timeout_s: 10,
      });
      if (done(result.job)) return result.job;
      if (Date.now() > deadline)
        throw new Error(`job ${jobId} still ${result.job.state} after ${timeoutMs} ms`);
      seq = result.job.seq;
    }
  };

  const submit = async (studyDir: string, name: string, args: string[] = []): Promise<string> => {
    const submitted = await callTool<{ job_id: string }>(client, "submit_job", {
      study_dir: studyDir,
      name,
      project: "starspec-m1-wfe",
      channel: "#starspec-m1-wfe",
      args,
      timeout_s: 600,
    });
    return submitted.job_id;
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "atomizer-e2e-"));
    queueA = join(root, "A", "job-queue");
    queueB = join(root, "B", "job-queue");
    await initQueue(queueA);
    await initQueue(queueB);
    const folder = (id: string, typeA: "sendonly" | "receiveonly", typeB: "sendonly" | "receiveonly") => ({
      id,
      pathA: join(queueA, id),
      pathB: join(queueB, id),
      typeA,
      typeB,
    });
    // Production folder types; smallest files first on the runner's outbox so job.json reliably lands
    // before the large model file, the order that catches a runner starting too early.
    pair = await SyncthingPair.start({
      root,
      maxSendKbps: 4000,
      folders: [
        { ...folder("outbox", "sendonly", "receiveonly"), order: "smallestFirst" },
        folder("inbox", "receiveonly", "sendonly"),
        folder("archive", "sendonly", "receiveonly"),
      ],
    });
    runnerArgs = ["--queue", queueB, "--work", join(root, "B", "work"), "--state", join(root, "B", "state")];
    runnerArgs.push(
      "--python",
      python as string,
      "--heartbeat",
      "1",
      "--rescan",
      "2",
      "--cleanup-delay",
      "2",
    );
    runnerArgs.push("--kill-grace", "2", "--host", "nx-workstation");
    // Signed, as deployed (docs/deployment.md "Signed jobs"): each side's keys outside its queue.
    const submitterKey = await generateKeyPairFiles(join(root, "A", "keys"), "submitter");
    const workstationKey = await generateKeyPairFiles(join(root, "B", "keys"), "workstation");
    runnerArgs.push("--trust-key", submitterKey.publicPath, "--signing-key", workstationKey.privatePath);
    runner = startRunner(runnerArgs);
    client = await connectMcp(
      [
        ...["--queue", queueA, "--allow", root, "--work", join(root, "A", "fetched")],
        ...["--signing-key", submitterKey.privatePath, "--trust-key", workstationKey.publicPath],
      ],
      { ATOMIZER_AGENT: "study-builder", ATOMIZER_ROLE: "admin" },
    );
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    if (runner) await stopRunner(runner);
    await pair?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  let completedJob = "";

  it("runs a real Optuna study and fetch_results reports the best value Optuna itself reports", async () => {
    const study = await copyExample(join(root, "studies", "happy"));
    const jobId = await submit(study, "mirror wfe e2e", ["--trials", "12"]);
    const job = await waitForJob(
      jobId,
      (j) =>
        j.state === "failed" ||
        (j.state === "completed" && (j.results as { complete?: boolean }).complete === true),
    );
    expect(job.state, JSON.stringify(job)).toBe("completed");
    expect(job.results).toMatchObject({ complete: true, missing: [], hash_mismatch: [] });

    const results = await callTool<{
      complete: boolean;
      work_dir: string;
      runner_signature: string;
      study: Array<{ trials_total: number; best: Array<{ value: number; trial_number: number }> }>;
    }>(client, "fetch_results", { job_id: jobId });
    expect(results.complete).toBe(true);
    // Signed on B, carried by Syncthing, verified on A with the workstation's public key.
    expect(results.runner_signature).toBe("verified");
    expect(results.study[0]?.trials_total).toBe(12);
    const fetchedDb = join(results.work_dir, "3_results", "study.db");
    const optunaSays = execFileSync(
      python as string,
      [
        "-c",
        "import optuna, sys; s = optuna.load_study(study_name='mirror_wfe_demo', storage='sqlite:///' + sys.argv[1]); " +
          "print(repr(s.best_value)); print(s.best_trial.number)",
        fetchedDb,
      ],
      { encoding: "utf8" },
    )
      .trim()
      .split("\n");
    expect(results.study[0]?.best[0]?.value).toBe(Number(optunaSays[0]));
    expect(results.study[0]?.best[0]?.trial_number).toBe(Number(optunaSays[1]));
    completedJob = jobId;
  });

  it("does not start a job while its large model file is still crossing", async () => {
    const study = await studyWithLargeModel(join(root, "studies", "large"), LARGE_MODEL_BYTES);
    const jobId = await submit(study, "mirror wfe large model", ["--trials", "3"]);
    const arrivedJobJson = join(queueB, "outbox", jobId, "job.json");
    const largeOnB = join(queueB, "outbox", jobId, "1_setup", "m1_mirror_sim1_large.fem");
    const inboxOnB = join(queueB, "inbox", jobId);
    let observedEarly = 0;
    await until("the large model file to arrive on the runner side", async () => {
      const jobJsonThere = await exists(arrivedJobJson);
      const size = await stat(largeOnB).then(
        (s) => s.size,
        () => -1,
      );
      if (size === LARGE_MODEL_BYTES) return true;
      if (jobJsonThere) {
        observedEarly++;
        expect(await exists(inboxOnB), "runner accepted the job before its model file arrived").toBe(false);
      }
      return false;
    });
    // With the rate limit the file takes seconds, so job.json was seen alone many times.
    expect(observedEarly).toBeGreaterThan(5);
    const job = await waitForJob(jobId, (j) => ["completed", "failed", "cancelled"].includes(j.state));
    expect(job.state, JSON.stringify(job)).toBe("completed");
  });

  it("cancels a running job: the process tree is gone and both sides say cancelled", async () => {
    const study = await longRunningStudy(join(root, "studies", "cancel"));
    const jobId = await submit(study, "long solve cancel");
    await waitForJob(jobId, (j) => j.state === "running");
    const pidFile = join(root, "B", "work", jobId, "solver.pid");
    await until("the solver grandchild to start", () => exists(pidFile));
    const solverPid = Number(await readFile(pidFile, "utf8"));
    const cancel = await callTool<{ outcome: string }>(client, "cancel_job", { job_id: jobId });
    expect(cancel.outcome).toBe("kill");
    const job = await waitForJob(jobId, (j) => ["completed", "failed", "cancelled"].includes(j.state));
    expect(job.state).toBe("cancelled");
    expect((job.error as { kind: string }).kind).toBe("cancelled");
    const onB = JSON.parse(await readFile(join(queueB, "inbox", jobId, "job.json"), "utf8")) as {
      status: string;
    };
    expect(onB.status).toBe("cancelled");
    // Gone, or a zombie nobody has reaped yet (this sandbox's init does not reap): neither runs.
    await until("the solver grandchild to be gone", async () => !(await isProcessAlive(solverPid)), 10_000);
  });

  it("a runner crash mid-job: the restarted runner takes the run over, cancel still kills its tree, it never runs twice", async () => {
    const study = await longRunningStudy(join(root, "studies", "crash"));
    const jobId = await submit(study, "long solve crash");
    await waitForJob(jobId, (j) => j.state === "running");
    const starts = join(root, "B", "work", `${jobId}.starts`);
    await until("the script to record its start", () => exists(starts));
    const pidFile = join(root, "B", "work", jobId, "solver.pid");
    await until("the solver grandchild to start", () => exists(pidFile));
    const solverPid = Number(await readFile(pidFile, "utf8"));
    await stopRunner(runner, "SIGKILL");
    runner = startRunner(runnerArgs);
    // Side A sees the same run go on: still running, its job.json rewritten by the new runner.
    const before = await waitForJob(jobId, (j) => j.state === "running");
    const adopted = await waitForJob(jobId, (j) => j.state === "running" && j.seq > before.seq + 1);
    expect(adopted.state).toBe("running");
    expect(await isProcessAlive(solverPid)).toBe(true);
    const cancel = await callTool<{ outcome: string }>(client, "cancel_job", { job_id: jobId });
    expect(cancel.outcome).toBe("kill");
    const job = await waitForJob(jobId, (j) => ["completed", "failed", "cancelled"].includes(j.state));
    expect(job.state).toBe("cancelled");
    await until("the solver grandchild to be gone", async () => !(await isProcessAlive(solverPid)), 10_000);
    const runners = await callTool<{ runners: Array<{ host: string; last_seen: string }> }>(
      client,
      "runner_status",
      {},
    );
    expect(runners.runners.some((r) => r.host === "nx-workstation")).toBe(true);
    expect((await readFile(starts, "utf8")).trim().split("\n")).toEqual(["started"]);
  });

  it("archives a finished job: the archive holds everything, the runner cleans up, no conflict copies", async () => {
    expect(completedJob, "the happy-path job must have completed first").not.toBe("");
    const archived = await callTool<{ archive_dir: string; final_status: string }>(client, "archive_job", {
      job_id: completedJob,
    });
    expect(archived.final_status).toBe("completed");
    const files = (await readdir(archived.archive_dir, { recursive: true })).map((f) =>
      f.split("\\").join("/"),
    );
    for (const expected of [
      "job.json",
      "run_optimization.py",
      "atomizer_spec.json",
      "README.md",
      "1_setup/m1_mirror.prt",
      "stdout.log",
      "3_results/study.db",
      "3_results/trials.csv",
      "3_results/convergence.png",
    ]) {
      expect(files, `archive lacks ${expected}`).toContain(expected);
    }
    expect(await exists(join(queueA, "outbox", completedJob))).toBe(false);
    await until(
      "the runner side to see the outbox entry gone",
      async () => !(await exists(join(queueB, "outbox", completedJob))),
    );
    await until(
      "the runner to clean its inbox copy",
      async () => !(await exists(join(queueB, "inbox", completedJob))),
    );
    await until(
      "the cleanup to reach side A",
      async () => !(await exists(join(queueA, "inbox", completedJob))),
    );
    await until("the archive to reach side B", () =>
      exists(join(archived.archive_dir.replace(queueA, queueB), "job.json")),
    );
    const status = await callTool<{ job: Job }>(client, "job_status", { job_id: completedJob });
    expect(status.job.state).toBe("archived");
    expect(await findConflictCopies(root)).toEqual([]);
  });
});
