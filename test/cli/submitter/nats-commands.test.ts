// The people's CLI on the NATS backend, as real child processes against a real nats-server:
// nats-setup says what it created and then what it kept, the queue commands take --nats (or
// ATOMIZER_NATS_URL) instead of --queue, and the mistakes are usage errors that say what to do.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { NatsQueue } from "../../../protocol/nats-connect.ts";
import { openNats } from "../../../protocol/nats-connect.ts";
import {
  jobKey,
  LicencePoolSchema,
  licenceKey,
  SubmissionRecordSchema,
} from "../../../protocol/nats-layout.ts";
import { readRecord } from "../../../protocol/nats-records.ts";
import type { CliRun } from "../../helpers/atomizer-jobs.ts";
import { BIN, runAtomizerJobs } from "../../helpers/atomizer-jobs.ts";
import type { RunningNats } from "../../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../../helpers/nats-server.ts";
import { makeStudy } from "../../submitter/fixtures/study-fixture.ts";

let nats: RunningNats;
let base: string;
let study: string;

function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const { ATOMIZER_QUEUE_DIR: _folder, ...inherited } = process.env;
  return runAtomizerJobs(args, {
    env: { ...inherited, ATOMIZER_STATE_DIR: join(base, "state"), ATOMIZER_AGENT: "antoine", ...env },
  });
}

beforeAll(async () => {
  if (!natsServerPresent()) return;
  nats = await startNatsServer();
  base = await mkdtemp(join(tmpdir(), "atomizer-nats-cli-"));
  study = await makeStudy(base);
});

afterAll(async () => {
  await nats?.stop();
  if (base) await rm(base, { recursive: true, force: true });
});

describe.runIf(natsServerPresent())("atomizer-jobs with --nats", () => {
  test("nats-setup creates the queue with its limits once, then keeps it", async () => {
    const first = await cli(["nats-setup", "--nats", nats.url, "--ack-wait-s", "45", "--licences", "nx=4"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`no queue was set up on ${nats.url}: created it`);
    expect(first.stdout).toMatch(/AckWait 30 s -> 45 s/);
    expect(first.stdout).toContain("licence pool nx: created, limit 4");
    const again = await cli(["nats-setup", "--json"], { ATOMIZER_NATS_URL: nats.url });
    expect(JSON.parse(again.stdout)).toMatchObject({
      created: false,
      lines: expect.arrayContaining(["consumer ATOMIZER_DISPATCH/runners: kept (AckWait 45 s)"]),
    });
    const q: NatsQueue = await openNats({ url: nats.url }, {}, { setup: false });
    try {
      expect((await readRecord(q.kv, licenceKey("nx"), LicencePoolSchema))?.value.limit).toBe(4);
    } finally {
      await q.close();
    }
  });

  test("submit --labels, status, list and runners work on NATS; runners says so", async () => {
    const submitted = await cli([
      "submit",
      study,
      "--name",
      "mirror over nats",
      "--project",
      "starspec-m1-wfe",
      "--labels",
      "nx=2512",
      "--nats",
      nats.url,
      "--json",
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const { job_id: jobId } = JSON.parse(submitted.stdout) as { job_id: string };
    const q = await openNats({ url: nats.url }, {}, { setup: false });
    try {
      expect((await readRecord(q.kv, jobKey(jobId, "sub"), SubmissionRecordSchema))?.value.labels).toEqual({
        nx: "2512",
      });
    } finally {
      await q.close();
    }
    const status = await cli(["status", jobId, "--json"], { ATOMIZER_NATS_URL: nats.url });
    expect(JSON.parse(status.stdout)).toMatchObject({ job_id: jobId, state: "submitted" });
    expect((await cli(["list", "--nats", nats.url])).stdout).toContain(jobId);
    const runners = JSON.parse((await cli(["runners", "--nats", nats.url, "--json"])).stdout);
    expect(runners).toMatchObject({ backend: "nats", nats_url: nats.url, runners: [] });
  });

  test("dashboard --nats serves the page of the NATS queue, its job listed", async () => {
    const submitted = await cli([
      "submit",
      study,
      "--name",
      "on the dashboard",
      "--project",
      "starspec-m1-wfe",
      "--nats",
      nats.url,
      "--json",
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const { job_id: jobId } = JSON.parse(submitted.stdout) as { job_id: string };
    // Another state folder: this dashboard's mirror is filled from NATS, not by the submit above.
    const { ATOMIZER_QUEUE_DIR: _folder, ...inherited } = process.env;
    const child = spawn(process.execPath, [BIN, "dashboard", "--nats", nats.url, "--port", "0"], {
      env: { ...inherited, ATOMIZER_STATE_DIR: join(base, "dashboard-state") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      let url: string | undefined;
      for (let i = 0; i < 150 && !url; i++) {
        url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
        if (!url) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(url, output).toBeDefined();
      expect(output).toContain(`queue NATS ${nats.url}`);
      let page = "";
      for (let i = 0; i < 100 && !page.includes(jobId); i++) {
        const response = await fetch(url as string);
        expect(response.status).toBe(200);
        page = await response.text();
        if (!page.includes(jobId)) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(page).toContain(`data-job="${jobId}"`);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  test.each([
    [
      ["status", "job-20990101-000000-nowhere", "--nats", "NATS", "--queue", "/tmp"],
      /--queue and --nats each name the queue/,
    ],
    [["list", "--nats", "nats://someone:secret@127.0.0.1:4222"], /carries a user, password or token/],
    [["list", "--nats", "http://127.0.0.1:4222"], /use nats:\/\/host:4222/],
    [["list", "--nats-creds", "/x.creds"], /--nats-creds needs --nats URL/],
    [["list"], /--queue DIR \(or ATOMIZER_QUEUE_DIR\), or --nats URL/],
    [["nats-setup"], /--nats URL or ATOMIZER_NATS_URL/],
    [["nats-setup", "--nats", "nats://127.0.0.1:1", "--licences", "NX=four"], /licences/],
  ])("%j is a usage error (exit 2) that says what to do", async (args, message) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toContain("secret");
  });
});
