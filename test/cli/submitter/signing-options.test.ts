// The key options of the submitting side's commands, as real child processes: key files are loaded
// from flags or env, refused inside the queue (exit 2, nothing written), and used to sign and verify.
import { chmod, copyFile, readdir, readFile, rm } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { CancelRequest, Job, QueuePaths } from "../../../protocol/index.ts";
import { loadTrustedKeys, verifyCancelSignature, verifyJobSignature } from "../../../protocol/index.ts";
import type { CliRun } from "../../helpers/atomizer-jobs.ts";
import { runAtomizerJobs } from "../../helpers/atomizer-jobs.ts";
import { connectStdio, serverFlags } from "../../submitter/fixtures/mcp-clients.ts";
import { acceptJob, finishJob, makeQueue } from "../../submitter/fixtures/runner-fixture.ts";
import type { TestKey } from "../../submitter/fixtures/signing-fixture.ts";
import { makeKeys, signInboxRecord } from "../../submitter/fixtures/signing-fixture.ts";
import { makeStudy } from "../../submitter/fixtures/study-fixture.ts";

let base: string;
let queue: QueuePaths;
let study: string;
let keys: Record<"submitter" | "workstation" | "stranger", TestKey>;
/** A copy of the submitter's key inside the queue folder: what every command must refuse. */
let inside: { key: string; pub: string };

function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const { ATOMIZER_SIGNING_KEY: _k, ATOMIZER_TRUST_KEYS: _t, ...inherited } = process.env;
  return runAtomizerJobs(args, {
    env: { ...inherited, ATOMIZER_QUEUE_DIR: queue.root, ATOMIZER_AGENT: "antoine", ...env },
  });
}

const submitArgs = (name: string) => [
  "submit",
  study,
  "--name",
  name,
  "--project",
  "starspec-m1-wfe",
  "--json",
];

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  study = await makeStudy(base);
  keys = await makeKeys(base);
  inside = { key: join(queue.root, "submitter.key"), pub: join(queue.outbox, "workstation.pub") };
  await copyFile(keys.submitter.key, inside.key);
  await chmod(inside.key, 0o600);
  await copyFile(keys.workstation.pub, inside.pub);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("--signing-key and --trust-key (real child processes)", () => {
  test.each([
    [
      "mcp --signing-key",
      () => ["mcp", "--signing-key", inside.key],
      {},
      /signing key .* is inside the synced queue folder/,
    ],
    [
      "mcp --trust-key",
      () => ["mcp", "--trust-key", keys.workstation.pub, "--trust-key", inside.pub],
      {},
      /trusted key .*workstation\.pub is inside the synced queue folder/,
    ],
    [
      "mcp ATOMIZER_SIGNING_KEY",
      () => ["mcp"],
      { signing: true },
      /signing key .* is inside the synced queue folder/,
    ],
    [
      "submit --signing-key",
      () => [...submitArgs("inside key"), "--signing-key", inside.key],
      {},
      /inside the synced queue folder/,
    ],
    [
      "cancel --signing-key",
      () => ["cancel", "job-20260101-000000-x", "--signing-key", inside.key],
      {},
      /inside the synced queue folder/,
    ],
    [
      "results ATOMIZER_TRUST_KEYS",
      () => ["results", "job-20260101-000000-x"],
      { trust: true },
      /trusted key .* is inside the synced queue folder/,
    ],
  ])("%s inside the queue: refused at start, exit 2, nothing written", async (_label, args, env, message) => {
    const before = await readdir(queue.outbox);
    const { signing, trust } = env as { signing?: boolean; trust?: boolean };
    const run = await cli(args(), {
      ...(signing ? { ATOMIZER_SIGNING_KEY: inside.key } : {}),
      ...(trust ? { ATOMIZER_TRUST_KEYS: [keys.workstation.pub, inside.pub].join(delimiter) } : {}),
    });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain("move it to a folder Syncthing does not share");
    expect(await readdir(queue.outbox)).toEqual(before);
  });

  test("a private key others can read is refused (POSIX)", async () => {
    if (process.platform === "win32") return;
    const loose = join(base, "keys", "loose.key");
    await copyFile(keys.submitter.key, loose);
    await chmod(loose, 0o644);
    const run = await cli([...submitArgs("loose key"), "--signing-key", loose]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`chmod 600 ${loose}`);
  });

  test.each([
    ["--signing-key", (key: string) => ({ args: ["--signing-key", key], env: {} })],
    ["ATOMIZER_SIGNING_KEY", (key: string) => ({ args: [], env: { ATOMIZER_SIGNING_KEY: key } })],
  ])("submit and cancel sign with %s", async (label, given) => {
    const { args, env } = given(keys.submitter.key);
    const run = await cli([...submitArgs(`signed by ${label}`), ...args], env);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { job_id: string; signed_by: string };
    expect(result.signed_by).toBe(keys.submitter.keyId);
    const trusted = await loadTrustedKeys([keys.submitter.pub]);
    const job = JSON.parse(await readFile(join(queue.outbox, result.job_id, "job.json"), "utf8")) as Job;
    expect(verifyJobSignature(job, trusted)).toMatchObject({ ok: true, keyId: keys.submitter.keyId });

    const cancel = await cli(["cancel", result.job_id, "--json", ...args], env);
    expect(cancel.code, cancel.stderr).toBe(0);
    const request = JSON.parse(
      await readFile(join(queue.cancelDir, `${result.job_id}.json`), "utf8"),
    ) as CancelRequest;
    expect(verifyCancelSignature(request, trusted)).toMatchObject({ ok: true });
  });

  test("results checks the runner's signature with ATOMIZER_TRUST_KEYS (a list) and without it does not", async () => {
    const submitted = await cli(submitArgs("results signature"));
    const { job_id: jobId } = JSON.parse(submitted.stdout) as { job_id: string };
    await acceptJob(queue, jobId);
    await finishJob(queue, jobId, "completed", { files: { "3_results/summary.csv": "trial,value\n0,1\n" } });
    await signInboxRecord(queue, jobId, keys.workstation);
    const trustList = [keys.stranger.pub, keys.workstation.pub].join(delimiter);
    const checked = await cli(["results", jobId, "--json"], { ATOMIZER_TRUST_KEYS: trustList });
    expect(checked.code, checked.stderr).toBe(0);
    expect(JSON.parse(checked.stdout)).toMatchObject({
      runner_signature: "verified",
      runner_key_id: keys.workstation.keyId,
    });
    const text = await cli(["results", jobId, "--trust-key", keys.stranger.pub]);
    expect(text.stdout).toMatch(/^WARNING runner_signature: unknown_key \(ed25519:/m);
    const unchecked = await cli(["results", jobId, "--json"]);
    expect(JSON.parse(unchecked.stdout)).toMatchObject({ runner_signature: "not_checked" });
  });

  test("the MCP server's start-up line says how it signs and checks", async () => {
    const flags = serverFlags(queue, base, { role: "observer" });
    const { client, stderr } = await connectStdio([
      ...flags,
      "--signing-key",
      keys.submitter.key,
      "--trust-key",
      keys.workstation.pub,
    ]);
    await client.close();
    expect(stderr()).toContain(
      `signing jobs as ${keys.submitter.keyId}; runner records checked against ${keys.workstation.keyId}`,
    );
    const plain = await connectStdio(flags, { ATOMIZER_SIGNING_KEY: "", ATOMIZER_TRUST_KEYS: "" });
    await plain.client.close();
    expect(plain.stderr()).toContain(
      "jobs unsigned (no --signing-key); runner records not checked (no --trust-key)",
    );
  });
});
