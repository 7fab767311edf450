// The real `atomizer-jobs runner` and `doctor` processes with keys: --trust-key (repeatable) and
// --signing-key or their environment variables, what the start-up log and doctor say in both modes,
// and the key files refused at start (exit 2) before any job is looked at.
import { copyFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { loadTrustedKeys, verifyRecordSignature } from "../../protocol/index.ts";
import { runAtomizerJobs } from "../helpers/atomizer-jobs.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { folderArgs, inboxJob, makeQueue, submitJob } from "./helpers/make-job.ts";
import type { TestKey } from "./helpers/signed-job.ts";
import { makeKey, notCopied, submitSignedJob } from "./helpers/signed-job.ts";

let queue: TestQueue;
let old: TestKey;
let next: TestKey;
let workstation: TestKey;
beforeEach(async () => {
  queue = await makeQueue();
  old = await makeKey(queue, "submitter-old");
  next = await makeKey(queue, "submitter-new");
  workstation = await makeKey(queue, "workstation");
});
afterEach(() => queue.cleanup());

const runnerOnce = (extra: string[], env?: NodeJS.ProcessEnv) =>
  runAtomizerJobs(["runner", ...folderArgs(queue), "--python", "python3", "--once", ...extra], {
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });

const job = (name: string) => ({ name, fixture: "interleave.py" });

describe("runner", () => {
  test.for([
    {
      how: "options",
      args: () => [
        "--trust-key",
        old.publicPath,
        "--trust-key",
        next.publicPath,
        "--signing-key",
        workstation.privatePath,
      ],
      env: () => ({}),
    },
    {
      how: "environment",
      args: () => [],
      env: () => ({
        ATOMIZER_TRUST_KEYS: [old.publicPath, next.publicPath].join(path.delimiter),
        ATOMIZER_SIGNING_KEY: workstation.privatePath,
      }),
    },
  ])(
    "with two trusted keys from its $how runs jobs signed by either, refuses the unsigned one",
    async ({ args, env }) => {
      const byOld = await submitSignedJob(queue, job("signed old"), old.key);
      const byNew = await submitSignedJob(queue, job("signed new"), next.key);
      const unsigned = await submitJob(queue, job("unsigned"));
      const result = await runnerOnce(args(), env());
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(
        `signed jobs only: runs only jobs signed by ${old.key.keyId} (${old.publicPath}), ${next.key.keyId} (${next.publicPath})`,
      );
      expect(result.stderr).toContain(
        `records signed: inbox records are signed with ${workstation.key.keyId}`,
      );
      const readers = await loadTrustedKeys([workstation.publicPath]);
      for (const jobId of [byOld, byNew]) {
        const done = await inboxJob(queue, jobId);
        expect(done?.status, done?.error?.message).toBe("completed");
        expect(done && verifyRecordSignature(done, readers).ok).toBe(true);
      }
      const refused = await inboxJob(queue, unsigned);
      expect(refused?.error?.kind).toBe("untrusted");
      expect(result.stderr).toMatch(
        new RegExp(`${unsigned} failed: untrusted: job ${unsigned} was not run: it carries no signature`),
      );
      expect(notCopied(queue, unsigned)).toBe(true);
    },
  );

  test("without --trust-key says plainly that unsigned jobs are accepted, and runs them", async () => {
    const unsigned = await submitJob(queue, job("unsigned"));
    const result = await runnerOnce([], { ATOMIZER_TRUST_KEYS: "", ATOMIZER_SIGNING_KEY: "" });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      "UNSIGNED JOBS ACCEPTED: no --trust-key: any job placed in outbox/ runs, signed or not; to require signatures pass --trust-key FILE",
    );
    expect(result.stderr).toContain('docs/deployment.md, "Signed jobs"');
    expect((await inboxJob(queue, unsigned))?.status).toBe("completed");
  });

  test.for([
    {
      name: "a trusted key inside the queue",
      args: async () => {
        const inside = path.join(queue.paths.root, "submitter.pub");
        await copyFile(old.publicPath, inside);
        return ["--trust-key", inside];
      },
      err: "trusted key %QUEUE%/submitter.pub is inside the synced queue folder",
    },
    {
      name: "its signing key inside the queue",
      args: async () => {
        const inside = path.join(queue.paths.inbox, "workstation.key");
        await copyFile(workstation.privatePath, inside);
        return ["--signing-key", inside];
      },
      err: "signing key %QUEUE%/inbox/workstation.key is inside the synced queue folder",
    },
    {
      name: "a missing key file",
      args: async () => ["--trust-key", path.join(queue.base, "keys", "nope.pub")],
      err: "nope.pub does not exist; make one with `atomizer-jobs keygen --out DIR`",
    },
    {
      name: "a private key given as a trusted key",
      args: async () => ["--trust-key", old.privatePath],
      err: "holds a private key; give the .pub file",
    },
  ])("refuses to start with $name (exit 2), taking no job", async ({ args, err }) => {
    const waiting = await submitSignedJob(queue, job("waits"), old.key);
    const result = await runnerOnce(["--trust-key", old.publicPath, ...(await args())]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/^atomizer-jobs runner: (trusted|signing) key /m);
    expect(result.stderr).toContain(err.replace("%QUEUE%", queue.paths.root));
    expect(await inboxJob(queue, waiting)).toBeUndefined();
    expect(notCopied(queue, waiting)).toBe(true);
  });

  test.for([
    {
      name: "an ATOMIZER_TRUST_KEYS of separators only",
      args: [],
      env: { ATOMIZER_TRUST_KEYS: path.delimiter },
    },
    { name: "an ATOMIZER_TRUST_KEYS of blanks", args: [], env: { ATOMIZER_TRUST_KEYS: "  " } },
    { name: "a blank --trust-key", args: ["--trust-key", " "], env: { ATOMIZER_TRUST_KEYS: "" } },
  ])(
    "refuses to start with $name (exit 2): it names no key, so it would run unsigned jobs",
    async ({ args, env }) => {
      const unsigned = await submitJob(queue, job("unsigned"));
      const result = await runnerOnce(args, { ...env, ATOMIZER_SIGNING_KEY: "" });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/(--trust-key|ATOMIZER_TRUST_KEYS) is given but names no key file/);
      expect(await inboxJob(queue, unsigned)).toBeUndefined();
      expect(notCopied(queue, unsigned)).toBe(true);
    },
  );
});

describe("doctor", () => {
  const doctor = (extra: string[]) =>
    runAtomizerJobs(["doctor", ...folderArgs(queue), "--python", "python3", ...extra], {
      env: { ...process.env, ATOMIZER_TRUST_KEYS: "", ATOMIZER_SIGNING_KEY: "" },
    });

  test("without keys warns that unsigned jobs are accepted and records are not signed", async () => {
    const result = await doctor([]);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/^warn\s+signed jobs: no --trust-key: unsigned jobs are accepted/m);
    expect(result.stdout).toMatch(/^warn\s+record key: no --signing-key: inbox records are not signed/m);
  });

  test("with keys names the jobs the runner would run and the key that signs its records", async () => {
    const result = await doctor(["--trust-key", old.publicPath, "--signing-key", workstation.privatePath]);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toContain(
      `signed jobs: runs only jobs signed by ${old.key.keyId} (${old.publicPath})`,
    );
    expect(result.stdout).toContain(`record key: inbox records are signed with ${workstation.key.keyId}`);
  });

  test("with trusted keys but no signing key warns that inbox records cannot be authenticated", async () => {
    const result = await doctor(["--trust-key", old.publicPath]);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(
      /^warn\s+record key: no --signing-key: .*inbox records cannot be authenticated without --signing-key/m,
    );
  });

  test("refuses a blank --trust-key as a usage error (exit 2)", async () => {
    const result = await doctor(["--trust-key", ""]);
    expect(result.code, result.stdout).toBe(2);
    expect(result.stderr).toContain("--trust-key is given but names no key file");
  });

  test("fails on a key the runner would refuse (exit 1)", async () => {
    const inside = path.join(queue.paths.root, "submitter.pub");
    await copyFile(old.publicPath, inside);
    const result = await doctor(["--trust-key", inside, "--signing-key", old.publicPath]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^fail\s+signed jobs: trusted key .* is inside the synced queue folder/m);
    expect(result.stdout).toMatch(/^fail\s+record key: signing key .* is not a PEM private key/m);
  });
});
