// Both sides with keys, as docs/deployment.md ("Signed jobs") sets them up: a real MCP server that signs,
// a real runner that trusts only its key and signs its records, and an intruder who can write into the
// queue folder but holds no key. The queue is one local folder (no Syncthing: test/e2e/syncthing-e2e
// covers the transport).
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job } from "../../protocol/index.ts";
import { buildManifest, initQueue, JOB_FILE, makeJobId, writeJsonAtomic } from "../../protocol/index.ts";
import { runAtomizerJobs } from "../helpers/atomizer-jobs.ts";
import { findOptunaPython, requireUnderCi } from "../helpers/python.ts";
import { makeStudy } from "../submitter/fixtures/study-fixture.ts";
import type { RunnerProcess } from "./helpers/processes.ts";
import { callTool, connectMcp, startRunner, stopRunner } from "./helpers/processes.ts";

const python = findOptunaPython();
const ready = requireUnderCi(python !== undefined, "python3 with optuna and matplotlib");

type Structured = Record<string, unknown>;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe.runIf(ready)("a queue with signed jobs, end to end", () => {
  let base: string;
  let queueRoot: string;
  let study: string;
  let marker: string;
  let runner: RunnerProcess;
  let client: Client;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), "atomizer-signed-"));
    queueRoot = (await initQueue(join(base, "queue"))).root;
    study = await makeStudy(base);
    marker = join(base, "intruder-ran");
    const keys = join(base, "keys");
    for (const name of ["submitter", "workstation"]) {
      const made = await runAtomizerJobs(["keygen", "--out", keys, "--name", name]);
      expect(made.code, made.stderr).toBe(0);
    }
    runner = startRunner([
      ...["--queue", queueRoot, "--work", join(base, "work"), "--state", join(base, "state")],
      ...["--python", python as string, "--heartbeat", "0.5", "--rescan", "0.5"],
      ...["--trust-key", join(keys, "submitter.pub"), "--signing-key", join(keys, "workstation.key")],
    ]);
    client = await connectMcp(
      [
        ...["--queue", queueRoot, "--allow", base, "--work", join(base, "fetched")],
        ...["--signing-key", join(keys, "submitter.key"), "--trust-key", join(keys, "workstation.pub")],
      ],
      { ATOMIZER_AGENT: "study-builder", ATOMIZER_ROLE: "admin" },
    );
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    if (runner) await stopRunner(runner);
    if (base) await rm(base, { recursive: true, force: true });
  });

  async function submit(name: string, args: string[]): Promise<Structured> {
    return callTool(client, "submit_job", {
      study_dir: study,
      name,
      project: "starspec-m1-wfe",
      args,
      timeout_s: 600,
    });
  }

  async function settled(jobId: string, states: readonly string[]): Promise<Structured> {
    return waitFor(`${jobId} to be ${states.join(" or ")}`, async () => {
      const { job } = await callTool<{ job: Structured }>(client, "job_status", { job_id: jobId });
      return states.includes(String(job.state)) ? job : undefined;
    }).catch((error: Error) => {
      throw new Error(`${error.message}; runner said:\n${runner.output.slice(-15).join("\n")}`);
    });
  }

  it("runs a job the server signed, and fetch_results verifies the workstation's record", async () => {
    const submitted = await submit("signed run", ["--trials", "4", "--trial-delay", "0"]);
    expect(String(submitted.signed_by)).toMatch(/^ed25519:[0-9a-f]{16}$/);
    const jobId = String(submitted.job_id);
    const outboxJob = JSON.parse(await readFile(join(queueRoot, "outbox", jobId, JOB_FILE), "utf8"));
    expect(outboxJob.signature).toMatchObject({ alg: "ed25519", key_id: submitted.signed_by });
    await settled(jobId, ["completed"]);
    const results = await waitFor("complete results", async () => {
      const fetched = await callTool(client, "fetch_results", { job_id: jobId, max_images: 0 });
      return fetched.complete === true ? fetched : undefined;
    });
    expect(results).toMatchObject({ runner_signature: "verified" });
  }, 120_000);

  it("refuses a job an intruder wrote straight into outbox/, and nothing of it runs", async () => {
    // The intruder copies a real study and adds a script that would leave a mark outside the queue.
    const jobId = makeJobId("intruder", new Date());
    const staging = join(base, "intruder-staging", jobId);
    await cp(study, staging, { recursive: true });
    await writeFile(
      join(staging, "run_optimization.py"),
      `open(${JSON.stringify(marker)}, "w").write("ran")\n`,
    );
    const files = await buildManifest(staging);
    const job: Job = {
      job_id: jobId,
      created_at: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      created_by: "study-builder",
      project: "starspec-m1-wfe",
      channel: "#starspec-m1-wfe",
      type: "optimization",
      script: "run_optimization.py",
      args: [],
      status: "submitted",
      notify: { on_complete: false, on_fail: true },
      schema_version: 2,
      files,
    };
    await writeJsonAtomic(join(staging, JOB_FILE), job);
    await mkdir(join(queueRoot, "outbox"), { recursive: true });
    await cp(staging, join(queueRoot, "outbox", jobId), { recursive: true });

    const status = await settled(jobId, ["failed", "completed"]);
    expect(status).toMatchObject({ state: "failed", error: { kind: "untrusted" } });
    expect(JSON.stringify(status)).toMatch(/no signature/);
    expect(existsSync(marker)).toBe(false);
  }, 60_000);

  it("ignores a cancel an intruder forged, and honours the server's signed one", async () => {
    const submitted = await submit("long signed run", ["--trials", "400", "--trial-delay", "0.2"]);
    const jobId = String(submitted.job_id);
    await settled(jobId, ["running"]);
    const forged = { job_id: jobId, requested_at: new Date().toISOString(), requested_by: "study-builder" };
    await mkdir(join(queueRoot, "outbox", ".cancel"), { recursive: true });
    await writeJsonAtomic(join(queueRoot, "outbox", ".cancel", `${jobId}.json`), forged);
    await waitFor("the runner to notice the forged cancel", async () =>
      runner.output.some((line) => line.includes(jobId) && /cancel request ignored/.test(line))
        ? true
        : undefined,
    );
    expect((await callTool<{ job: Structured }>(client, "job_status", { job_id: jobId })).job.state).toBe(
      "running",
    );

    await callTool(client, "cancel_job", { job_id: jobId, reason: "wrong mesh" });
    const cancelled = await settled(jobId, ["cancelled", "completed", "failed"]);
    expect(cancelled).toMatchObject({ state: "cancelled", error: { kind: "cancelled" } });
  }, 120_000);
});
