import { cp, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadTrustedKeys, verifyHeartbeatSignature } from "../../protocol/index.ts";
import { runAtomizerJobs } from "../helpers/atomizer-jobs.ts";
import type { LaneContext } from "./lane-context.ts";
import { assert } from "./lane-context.ts";
import { isFinal } from "./lane-queue.ts";
import { writeStudy } from "./lane-studies.ts";
import { runWine, startWine } from "./wine-process.ts";
import { zPath } from "./wine-setup.ts";

type Check = (name: string, body: () => Promise<void>) => Promise<void>;

/**
 * docs/deployment.md "Signed jobs" on the real target: the workstation's key made by Windows Node's
 * keygen, a --once runner under Wine that trusts only the submitter's key, and the Linux side signing
 * one job, leaving another unsigned (placed straight into outbox/), and verifying the runner's record.
 */
export async function signedCase(ctx: LaneContext, check: Check): Promise<void> {
  const keys = path.join(ctx.dir, "keys");
  const linuxKeygen = await runAtomizerJobs(["keygen", "--out", keys, "--name", "submitter"]);
  assert.equal(linuxKeygen.code, 0, linuxKeygen.stderr);
  const winKeys = "C:\\atomizer-lane\\keys";
  const keygen = await runWine(
    ctx.lane,
    [
      zPath(path.join(ctx.repo, "bin", "atomizer-jobs.js")),
      "keygen",
      "--out",
      winKeys,
      "--name",
      "workstation",
    ],
    { cwd: ctx.dir, outFile: ctx.outFile("keygen"), env: ctx.wineEnv() },
  );
  await check("keygen under Wine writes the workstation's key pair", async () => {
    assert.equal(keygen.code, 0, keygen.output);
    assert.match(keygen.output, /ed25519:[0-9a-f]{16}/);
  });
  const workstationPub = path.join(
    String(ctx.lane.env.WINEPREFIX),
    "drive_c",
    "atomizer-lane",
    "keys",
    "workstation.pub",
  );

  const signedJob = await ctx.linux.submit(await writeStudy(ctx.studies, "interpreter-job"), "lane-signed", {
    script: "main.py",
    args: ["signed"],
    cliOptions: ["--signing-key", path.join(keys, "submitter.key")],
  });
  // The intruder: a copy of a real job under a new id, its signature dropped and its argument changed.
  const intruderJob = signedJob.replace("lane-signed", "lane-intruder");
  const source = path.join(ctx.queue, "outbox", signedJob);
  const staging = path.join(ctx.dir, "intruder", intruderJob);
  await cp(source, staging, { recursive: true });
  const job = JSON.parse(await readFile(path.join(staging, "job.json"), "utf8"));
  delete job.signature;
  await writeFile(
    path.join(staging, "job.json"),
    JSON.stringify({ ...job, job_id: intruderJob, args: ["intruder"] }),
  );
  await cp(staging, path.join(ctx.queue, "outbox", intruderJob), { recursive: true });

  const trust = [
    "--trust-key",
    zPath(path.join(keys, "submitter.pub")),
    "--signing-key",
    `${winKeys}\\workstation.key`,
  ];
  const runner = startWine(ctx.lane, ctx.runnerArgs(zPath(ctx.queue), ["--once", ...trust]), {
    cwd: ctx.dir,
    outFile: ctx.outFile("runner-signed"),
    env: ctx.wineEnv(),
  });
  const code = await runner.exited;
  const log = await runner.output();
  await check("signed runner under Wine exits 0 and names the key it trusts", async () => {
    assert.equal(code, 0, log.slice(-2000));
    assert.match(log, /ed25519:[0-9a-f]{16}/);
  });
  await check("signed job completes; fetch verifies the Windows runner's signature", async () => {
    const done = await ctx.linux.waitJob(signedJob, isFinal, 5000);
    assert.equal(done.status, "completed", JSON.stringify(done.error));
    assert.equal((done.runner_signature as { alg?: string } | undefined)?.alg, "ed25519");
    const fetched = await ctx.linux.cli([
      "results",
      signedJob,
      "--work",
      path.join(ctx.dir, "fetched-signed"),
      "--trust-key",
      workstationPub,
      "--json",
    ]);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(JSON.parse(fetched.stdout).runner_signature, "verified", fetched.stdout);
  });
  await check("the Windows runner's last heartbeat is signed by its key", async () => {
    const runnersDir = path.join(ctx.queue, "inbox", ".runners");
    const trusted = await loadTrustedKeys([workstationPub]);
    const beats = await Promise.all(
      (await readdir(runnersDir)).map(async (name) =>
        JSON.parse(await readFile(path.join(runnersDir, name), "utf8")),
      ),
    );
    assert.ok(
      beats.some((beat) => verifyHeartbeatSignature(beat, trusted).ok),
      JSON.stringify(beats).slice(0, 400),
    );
  });
  await check("unsigned job placed in outbox/: failed untrusted, never run", async () => {
    const refused = await ctx.linux.waitJob(intruderJob, isFinal, 5000);
    assert.equal(refused.status, "failed");
    assert.equal((refused.error as { kind: string }).kind, "untrusted", JSON.stringify(refused.error));
    assert.equal(refused.started_at, undefined);
  });
}
