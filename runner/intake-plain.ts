import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { Job } from "../protocol/index.ts";
import { checkJobPaths, JOB_FILE, listJobTree, removeTree } from "../protocol/index.ts";
import { copyOrClean, copyVerified, promote, signatureOf, stagingFor, statAll } from "./intake-copy.ts";
import type { IntakeContext, IntakeResult, PendingJob } from "./intake-result.ts";
import { reject, waitOrExpire } from "./intake-result.ts";

/** A plain SYS_19 job has no manifest: it is taken once its folder has been quiet for the settle period. */
export async function examinePlain(
  ctx: IntakeContext,
  state: PendingJob,
  job: Job,
  dir: string,
  jobBytes: Buffer,
): Promise<IntakeResult> {
  const listing = await listJobTree(dir);
  if (listing.unsupported.length > 0) {
    return reject(
      job,
      "rejected",
      `links and special files are never job files: ${listing.unsupported.join(", ")}`,
    );
  }
  const violations = checkJobPaths(listing.files);
  if (violations.length > 0) {
    return reject(
      job,
      "rejected",
      `job files break the path rules: ${violations.map((v) => `${v.message} [${v.rule}]`).join("; ")}`,
    );
  }
  const signature = signatureOf(await statAll(dir, listing.files)) + JSON.stringify(listing.temps);
  if (signature !== state.signature) {
    state.signature = signature;
    state.changedAtMs = ctx.nowMs();
  }
  if (listing.temps.length > 0)
    return waitOrExpire(
      ctx,
      state,
      job,
      job.job_id,
      `still arriving: ${listing.temps.join(", ")}`,
      listing.temps,
    );
  const quietS = (ctx.nowMs() - state.changedAtMs) / 1000;
  if (quietS < ctx.config.settleS) {
    return waitOrExpire(
      ctx,
      state,
      job,
      job.job_id,
      `no manifest (plain SYS_19 job): waiting for the folder to stay unchanged for ${ctx.config.settleS} s`,
      [],
    );
  }
  if (!listing.files.includes(job.script)) {
    return reject(job, "rejected", `script ${JSON.stringify(job.script)} is not in the job folder`);
  }
  const staging = stagingFor(ctx.paths, job.job_id);
  const outcome = await copyOrClean(staging, () => copyVerified(dir, staging, listing.files));
  const after = await listJobTree(dir);
  const stillSame = signatureOf(await statAll(dir, after.files)) + JSON.stringify(after.temps) === signature;
  if (!outcome.ok || !stillSame) {
    await removeTree(staging);
    if (!outcome.ok && "unreadable" in outcome)
      return reject(job, "rejected", `cannot read job file ${outcome.unreadable}`);
    state.changedAtMs = ctx.nowMs();
    return { kind: "wait", reason: "files changed while they were copied" };
  }
  await copyOrClean(staging, async () => {
    // The job.json that was read and checked, not a second read that could differ.
    await writeFile(path.join(staging, JOB_FILE), jobBytes);
    await promote(ctx.paths, job.job_id, staging);
  });
  ctx.pending.delete(job.job_id);
  return {
    kind: "accept",
    job: { ...job, files: outcome.manifest },
    notes: ["no manifest: built from the folder after it settled"],
  };
}
