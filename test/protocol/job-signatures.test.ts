import { chmod, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CancelRequest, Job } from "../../protocol/index.ts";
import {
  canonicalJson,
  checkKeyOutsideQueue,
  generateKeyPairFiles,
  isProtocolError,
  loadSigningKey,
  loadTrustedKeys,
  signCancelRequest,
  signHeartbeat,
  signJob,
  signRecord,
  verifyCancelSignature,
  verifyHeartbeatSignature,
  verifyJobSignature,
  verifyRecordSignature,
} from "../../protocol/index.ts";
import { POSIX } from "../helpers/hostile-fs.ts";
import { sampleJob } from "../helpers/sample-job.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("job-signatures");
const ID = "job-20260210-143022-wfe";
const SHA = "a".repeat(64);

async function keyPair(dir: string, name: string) {
  const pair = await generateKeyPairFiles(dir, name);
  return { ...pair, signing: await loadSigningKey(pair.privatePath) };
}

/** Two key pairs in one fresh folder: the submitter's and one nobody trusts. */
async function keys() {
  const dir = await tempDir();
  return { dir, a: await keyPair(dir, "submitter"), b: await keyPair(dir, "stranger") };
}

const MODEL = { path: "1_setup/model.prt", size: 10, sha256: SHA };
const SCRIPT = { path: "run_optimization.py", size: 5, sha256: "b".repeat(64) };

function manifestJob(overrides: Partial<Job> = {}) {
  return {
    ...sampleJob(ID, { args: ["--trials", "40"], timeout_s: 3600 }),
    files: [MODEL, SCRIPT],
    ...overrides,
  };
}

describe("canonicalJson", () => {
  it.each([
    [{ b: 1, a: [true, null, "x"] }, '{"a":[true,null,"x"],"b":1}'],
    [{ z: { y: 2, x: 1 }, skip: undefined }, '{"z":{"x":1,"y":2}}'],
    ["é\n", '"é\\n"'],
  ])("writes %j as %s", (value, text) => {
    expect(canonicalJson(value)).toBe(text);
  });

  it("refuses values JSON cannot carry exactly", () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/finite/);
  });
});

describe("job signatures", () => {
  it("a signed job verifies against its key, and names the key and its file", async () => {
    const { a } = await keys();
    const job = signJob(manifestJob(), a.signing);
    const trusted = await loadTrustedKeys([a.publicPath]);
    expect(job.signature).toMatchObject({ alg: "ed25519", key_id: a.keyId });
    expect(verifyJobSignature(job, trusted)).toEqual({ ok: true, keyId: a.keyId, file: a.publicPath });
  });

  const changes: Array<[string, (job: Job) => Job]> = [
    ["script", (job) => ({ ...job, script: "other.py" })],
    ["an argument", (job) => ({ ...job, args: ["--trials", "4000"] })],
    ["the type", (job) => ({ ...job, type: "shell" })],
    ["the timeout", (job) => ({ ...job, timeout_s: undefined })],
    ["created_by", (job) => ({ ...job, created_by: "intruder" })],
    ["created_at", (job) => ({ ...job, created_at: "2026-02-10T14:30:23Z" })],
    ["the job id", (job) => ({ ...job, job_id: "job-20260210-143022-other" })],
    ["a file's hash", (job) => ({ ...job, files: [{ ...MODEL, sha256: "c".repeat(64) }, SCRIPT] })],
    ["a file's size", (job) => ({ ...job, files: [{ ...MODEL, size: 11 }, SCRIPT] })],
    [
      "an added file",
      (job) => ({ ...job, files: [...(job.files ?? []), { path: "evil.py", size: 1, sha256: SHA }] }),
    ],
    ["a removed file", (job) => ({ ...job, files: [SCRIPT] })],
  ];
  it.each(changes)("changing %s after signing breaks the signature", async (_what, change) => {
    const { a } = await keys();
    const trusted = await loadTrustedKeys([a.publicPath]);
    const check = verifyJobSignature(change(signJob(manifestJob(), a.signing)), trusted);
    expect(check).toMatchObject({ ok: false, check: "mismatch" });
  });

  it("tells an unsigned job, a malformed signature, an unknown key and a copied signature apart", async () => {
    const { a, b } = await keys();
    const trusted = await loadTrustedKeys([a.publicPath]);
    const signed = signJob(manifestJob(), a.signing);
    const other = signJob(manifestJob({ job_id: "job-20260210-143022-other" }), a.signing);
    const cases: Array<[Job, string]> = [
      [manifestJob(), "unsigned"],
      [{ ...manifestJob(), files: undefined }, "unsigned"],
      [{ ...manifestJob(), signature: { alg: "rsa", key_id: "x", value: "AA==" } } as Job, "malformed"],
      [signJob(manifestJob(), b.signing), "unknown_key"],
      [{ ...signed, signature: other.signature } as Job, "mismatch"],
    ];
    expect(cases.map(([job]) => verifyJobSignature(job, trusted))).toMatchObject(
      cases.map(([, check]) => ({ ok: false, check })),
    );
  });

  it("a signature by either of two trusted keys verifies (rotation)", async () => {
    const { a, b } = await keys();
    const trusted = await loadTrustedKeys([a.publicPath, b.publicPath]);
    for (const pair of [a, b])
      expect(verifyJobSignature(signJob(manifestJob(), pair.signing), trusted)).toMatchObject({
        ok: true,
        keyId: pair.keyId,
      });
  });

  it("a cancel request's signature does not pass as a job's, and covers the job id", async () => {
    const { a } = await keys();
    const trusted = await loadTrustedKeys([a.publicPath]);
    const request: CancelRequest = {
      job_id: ID,
      requested_at: "2026-02-10T15:00:00Z",
      requested_by: "optimizer",
    };
    const signed = signCancelRequest(request, a.signing);
    expect(verifyCancelSignature(signed, trusted)).toMatchObject({ ok: true });
    expect(verifyCancelSignature({ ...signed, job_id: "job-20260210-143022-other" }, trusted)).toMatchObject({
      check: "mismatch",
    });
    expect(verifyCancelSignature(request, trusted)).toMatchObject({ check: "unsigned" });
    const job = { ...manifestJob(), signature: signed.signature } as Job;
    expect(verifyJobSignature(job, trusted)).toMatchObject({ check: "mismatch" });
  });

  it("the runner's record covers outcome and results and is bound to the submitted job's signature", async () => {
    const { a, b } = await keys();
    const runnerTrust = await loadTrustedKeys([b.publicPath]);
    const job = signJob(manifestJob(), a.signing);
    const record = signRecord(
      {
        ...job,
        status: "completed",
        exit_code: 0,
        runner: { host: "nx-ws1", version: "0.2.0" },
        results: {
          published_at: "2026-02-10T16:00:00Z",
          files: [{ path: "3_results/study.db", size: 9, sha256: SHA }],
        },
      },
      b.signing,
    );
    expect(verifyRecordSignature(record, runnerTrust)).toMatchObject({ ok: true, keyId: b.keyId });
    expect(
      verifyRecordSignature({ ...record, heartbeat_at: "2026-02-10T16:00:05Z" }, runnerTrust),
    ).toMatchObject({ ok: true });
    for (const forged of [
      { ...record, status: "failed" as const },
      { ...record, results: { published_at: "2026-02-10T16:00:00Z", files: [] } },
      { ...record, signature: signJob(manifestJob({ args: [] }), a.signing).signature },
    ])
      expect(verifyRecordSignature(forged, runnerTrust)).toMatchObject({ ok: false, check: "mismatch" });
  });
});

describe("heartbeat signatures", () => {
  it("cover every field of the heartbeat, and no other kind of signature passes for one", async () => {
    const { a } = await keys();
    const trusted = await loadTrustedKeys([a.publicPath]);
    const beat = {
      host: "nx-ws1",
      version: "0.2.0",
      slots: 2,
      running: [ID],
      queued: [],
      started_at: "2026-02-10T14:00:00Z",
      last_seen: "2026-02-10T15:00:00Z",
      interval_s: 10,
      trusted_keys: [a.keyId],
    };
    const signed = signHeartbeat(beat, a.signing);
    expect(verifyHeartbeatSignature(signed, trusted)).toMatchObject({ ok: true, keyId: a.keyId });
    for (const forged of [
      { ...signed, trusted_keys: ["ed25519:0000000000000000"] },
      { ...signed, stopped_at: "2026-02-10T15:00:01Z" },
      { ...signed, running: [] },
      { ...beat, signature: signJob(manifestJob(), a.signing).signature },
    ])
      expect(verifyHeartbeatSignature(forged, trusted)).toMatchObject({ ok: false, check: "mismatch" });
    expect(verifyHeartbeatSignature(beat, trusted)).toMatchObject({ ok: false, check: "unsigned" });
  });
});

describe("key files", () => {
  it("keygen writes a private key only its owner reads and a public key, and never overwrites them", async () => {
    const { dir, a } = await keys();
    const text = await readFile(a.privatePath, "utf8");
    expect(text).toContain("BEGIN PRIVATE KEY");
    expect(await readFile(a.publicPath, "utf8")).toContain("BEGIN PUBLIC KEY");
    await expect(generateKeyPairFiles(dir, "submitter")).rejects.toThrow(/already exists.*never overwritten/);
    expect(await readFile(a.privatePath, "utf8")).toBe(text);
  });

  it.each([
    [".stfolder", "a Syncthing folder"],
    ["outbox", "a queue root"],
  ])("keygen refuses to write inside %s (%s), at any depth", async (marker) => {
    const dir = await tempDir();
    await mkdir(path.join(dir, marker));
    if (marker === "outbox") await mkdir(path.join(dir, "inbox"));
    await expect(generateKeyPairFiles(path.join(dir, "keys", "deep"), "submitter")).rejects.toThrow(
      /inside .*a synced folder or a queue/,
    );
  });

  it.skipIf(!POSIX)("refuses a private key others can read, as ssh does", async () => {
    const { a } = await keys();
    await chmod(a.privatePath, 0o644);
    await expect(loadSigningKey(a.privatePath)).rejects.toThrow(/chmod 600/);
  });

  it("refuses the wrong kind of key file with what to give instead", async () => {
    const { dir, a } = await keys();
    const notKey = path.join(dir, "notes.txt");
    await writeFile(notKey, "hello");
    await chmod(notKey, 0o600);
    await expect(loadSigningKey(a.publicPath)).rejects.toThrow(/not a PEM private key/);
    await expect(loadTrustedKeys([a.privatePath])).rejects.toThrow(/holds a private key/);
    await expect(loadTrustedKeys([notKey])).rejects.toThrow(/not a PEM public key/);
    await expect(loadTrustedKeys([path.join(dir, "absent.pub")])).rejects.toThrow(/does not exist.*keygen/);
    await expect(loadTrustedKeys(Array.from({ length: 33 }, () => a.publicPath))).rejects.toThrow(
      /at most 32/,
    );
  });

  it("refuses a key inside the synced queue folder, also through a link", async () => {
    const { dir, a } = await keys();
    const queue = path.join(dir, "queue");
    await mkdir(path.join(queue, "outbox"), { recursive: true });
    const inside = path.join(queue, "outbox", "submitter.key");
    await writeFile(inside, await readFile(a.privatePath));
    const error = await checkKeyOutsideQueue(inside, [queue], "signing key").catch(
      (caught: unknown) => caught,
    );
    expect(isProtocolError(error, "unsafe_file")).toBe(true);
    expect((error as Error).message).toMatch(/inside the synced queue folder/);
    const link = path.join(dir, "linked.key");
    await symlink(inside, link);
    await expect(checkKeyOutsideQueue(link, [queue], "signing key")).rejects.toThrow(/inside the synced/);
    const dotted = path.join(queue, "..keys");
    await mkdir(dotted);
    await writeFile(path.join(dotted, "submitter.key"), "x");
    await expect(
      checkKeyOutsideQueue(path.join(dotted, "submitter.key"), [queue], "signing key"),
    ).rejects.toThrow(/inside the synced/);
    await expect(checkKeyOutsideQueue(a.privatePath, [queue], "signing key")).resolves.toBeUndefined();
  });
});
