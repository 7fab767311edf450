import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { SubmittedJob } from "../../protocol/index.ts";
import {
  checkJobPath,
  checkJobPaths,
  hashFile,
  JOB_FILE,
  LabelsSchema,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_JOB_ID_LENGTH,
  MAX_JOB_NAME_LENGTH,
  MAX_PATH_BYTES,
  MAX_PROJECT_LENGTH,
  MAX_RELATIVE_PATH_LENGTH,
  makeJobId,
  README_FILE,
  removeTree,
  SCHEMA_VERSION,
  SubmittedJobSchema,
  slugify,
  withCollisionSuffix,
  writeJsonAtomic,
} from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import { cleanStaleStaging, makeStagingDir } from "../jobs/staging-dirs.ts";
import { existingSigner, signSubmission } from "../signing/job-signing.ts";
import { checkRunnerTrust } from "../signing/runner-trust.ts";
import { copyStudy } from "../submit/copy-study.ts";
import type { JobContent } from "../submit/idempotency.ts";
import { sameContent } from "../submit/idempotency.ts";
import { generateReadme } from "../submit/readme.ts";
import {
  findResumeSource,
  RESUMED_STUDY_PATH,
  refuseAmbiguousStudy,
  stageResumedStudy,
} from "../submit/resume-study.ts";
import { checkStudyContent, refuse } from "../submit/study-checks.ts";
import { collectStudyFiles } from "../submit/study-files.ts";
import { OperationError } from "./operation-error.ts";

const SCRIPT_DEFAULT = "run_optimization.py";
const TYPE_DEFAULT = "optimization";
const NOTIFY_DEFAULT = { on_complete: true, on_fail: true } as const;

export const SubmitJobInput = {
  study_dir: z.string().min(1).max(MAX_PATH_BYTES),
  name: z.string().min(1).max(MAX_JOB_NAME_LENGTH).describe('descriptive, e.g. "starspec m1 wfe sweep"'),
  project: z
    .string()
    .max(MAX_PROJECT_LENGTH)
    .regex(/^[a-z0-9]+(?:[-_][a-z0-9]+)*$/, "project must be a slug like starspec-m1-wfe"),
  channel: z.string().max(100).optional().describe("default #<project>"),
  type: z.string().min(1).max(50).optional().meta({ default: TYPE_DEFAULT }),
  script: z.string().min(1).max(MAX_RELATIVE_PATH_LENGTH).optional().meta({ default: SCRIPT_DEFAULT }),
  args: z.array(z.string().max(1000)).max(100).optional(),
  notify: z
    .object({ on_complete: z.boolean(), on_fail: z.boolean() })
    .optional()
    .describe("default both true"),
  timeout_s: z
    .number()
    .int()
    .positive()
    .max(30 * 24 * 3600)
    .optional()
    .describe("wall-clock limit"),
  readme: z.string().max(50_000).optional().describe("README.md if the folder has none"),
  idempotency_key: z
    .string()
    .min(1)
    .max(MAX_IDEMPOTENCY_KEY_LENGTH)
    .optional()
    .describe("the same key and content return the first job"),
  resume_from: z
    .string()
    .min(1)
    .max(MAX_JOB_ID_LENGTH)
    .optional()
    .describe("job whose 3_results/study.db to continue"),
  labels: LabelsSchema.optional().describe("runner labels needed"),
};
const SubmitJobInputSchema = z.object(SubmitJobInput);
export type SubmitJobArgs = z.infer<typeof SubmitJobInputSchema>;

export const SubmitJobOutput = {
  job_id: z.string(),
  status: z.literal("submitted"),
  created_at: z.string(),
  created_by: z.string(),
  outbox_dir: z.string(),
  files: z.number().int(),
  bytes: z.number().int(),
  readme: z.enum(["present", "from_text", "generated"]),
  skipped: z.array(z.string()),
  /** True when an earlier submission with the same idempotency_key and content was returned. */
  existing: z.boolean(),
  /** The job whose study.db this one carries, and the trials already in it. */
  resumed_from: z.string().optional(),
  resumed_trials: z.number().int().optional(),
  /** The key id that signed job.json; absent when it is unsigned. */
  signed_by: z.string().optional(),
  next: z.string(),
};
const SubmitJobOutputSchema = z.object(SubmitJobOutput);
export type SubmitJobResult = z.infer<typeof SubmitJobOutputSchema>;

const MAX_PUBLISH_ATTEMPTS = 50;

const signedBy = (keyId: string | undefined) => (keyId ? { signed_by: keyId } : {});

/** Second resolution is what job ids and SYS_19's created_at use. */
function isoSeconds(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Checks everything first (paths, script, spec, absolute paths, README), then copies and hashes each
 * file in one pass into <queue>/.staging/, writes job.json last and renames the folder into outbox/.
 * Nothing reaches outbox/ unless the whole job is valid.
 */
export function submitJob(ctx: ServerContext, args: SubmitJobArgs, agent: string): Promise<SubmitJobResult> {
  const key = args.idempotency_key;
  return key === undefined
    ? submitOnce(ctx, args, agent)
    : ctx.submitLocks.run(key, () => submitOnce(ctx, args, agent));
}

async function submitOnce(ctx: ServerContext, args: SubmitJobArgs, agent: string): Promise<SubmitJobResult> {
  let slug: string;
  try {
    slug = slugify(args.name);
  } catch (error) {
    throw new OperationError(
      "invalid_argument",
      (error as Error).message,
      "choose a name that describes the study",
    );
  }
  const script = (args.script ?? SCRIPT_DEFAULT).replace(/^\.\//, "");
  const scriptProblem = checkJobPath(script);
  if (scriptProblem)
    refuse([`script ${scriptProblem.message}`], "give the script's path relative to study_dir");

  const listing = await collectStudyFiles(args.study_dir, ctx.allowRoots);
  const problems = [...listing.problems];
  const paths = listing.files.map((file) => file.path);
  if (args.resume_from !== undefined) refuseAmbiguousStudy(paths, args.resume_from);
  const hasReadme = paths.includes(README_FILE);
  const readmeMode: SubmitJobResult["readme"] = hasReadme
    ? "present"
    : args.readme !== undefined
      ? "from_text"
      : "generated";
  // The carried study.db is checked with the rest, so a case-only twin in the folder is refused too.
  const allPaths = [
    ...paths,
    ...(hasReadme ? [] : [README_FILE]),
    ...(args.resume_from !== undefined ? [RESUMED_STUDY_PATH] : []),
  ];
  for (const violation of checkJobPaths(allPaths))
    problems.push(`${violation.message} (rule ${violation.rule})`);
  problems.push(...(await checkStudyContent(listing, script)));
  if (problems.length > 0) {
    refuse(
      problems,
      'fix these in the study folder (use paths relative to the script, e.g. Path(__file__).parent / "1_setup") and submit again',
    );
  }

  // Before anything is copied: a source that cannot be resumed refuses the submission cheaply.
  const resumeSource =
    args.resume_from !== undefined ? await findResumeSource(ctx, args.resume_from) : undefined;
  const channel = args.channel ?? `#${args.project}`;
  const type = args.type ?? TYPE_DEFAULT;
  const jobArgs = args.args ?? [];
  const notify = args.notify ?? NOTIFY_DEFAULT;
  await checkRunnerTrust(ctx);
  const staging = await makeStagingDir(ctx.stagingDir, "submit", slug);
  try {
    const files = await copyStudy(listing.files, staging, listing.root);
    const resumed = resumeSource ? await stageResumedStudy(resumeSource, staging) : undefined;
    if (resumed) files.push(resumed.entry);
    if (!hasReadme) {
      const text =
        args.readme ??
        generateReadme({
          name: args.name,
          project: args.project,
          channel,
          type,
          script,
          args: jobArgs,
          createdBy: agent,
          timeoutS: args.timeout_s,
          files,
          ...(resumed ? { resumedFrom: resumed.from, resumedTrials: resumed.trials } : {}),
        });
      const target = join(staging, README_FILE);
      await writeFile(target, text.endsWith("\n") ? text : `${text}\n`);
      files.push({ path: README_FILE, ...(await hashFile(target)) });
    }
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const bytes = files.reduce((sum, file) => sum + file.size, 0);
    const content: JobContent & Partial<SubmittedJob> = {
      project: args.project,
      channel,
      type,
      script,
      args: jobArgs,
      notify,
      schema_version: SCHEMA_VERSION,
      files,
      ...(args.timeout_s !== undefined ? { timeout_s: args.timeout_s } : {}),
      ...(args.idempotency_key !== undefined ? { idempotency_key: args.idempotency_key } : {}),
      ...(resumed ? { resumed_from: resumed.from } : {}),
      ...(args.labels !== undefined && Object.keys(args.labels).length > 0 ? { labels: args.labels } : {}),
    };
    const base = {
      outbox_dir: "",
      files: files.length,
      bytes,
      readme: readmeMode,
      skipped: listing.skipped.slice(0, 50),
      ...(resumed ? { resumed_from: resumed.from, resumed_trials: resumed.trials } : {}),
    };
    if (args.idempotency_key !== undefined) {
      const existing = await ctx.catalog.findByIdempotencyKey(args.idempotency_key);
      if (existing) {
        if (!sameContent(existing, content, slug)) {
          throw new OperationError(
            "conflict",
            `idempotency_key ${JSON.stringify(args.idempotency_key)} was already used for ${existing.job_id} with different content (name, parameters or files)`,
            "use a new idempotency_key for a changed study, or check job_status of the existing job",
            { job_id: existing.job_id },
          );
        }
        return {
          ...base,
          job_id: existing.job_id,
          status: "submitted",
          created_at: existing.created_at,
          created_by: existing.created_by,
          outbox_dir: ctx.catalog.submissionFolder(existing.job_id).dir,
          existing: true,
          ...signedBy(existingSigner(existing, ctx.signingKey)),
          next: `next: job_status {job_id: "${existing.job_id}"} (this key was submitted before; no second job was made)`,
        };
      }
    }
    const now = ctx.now();
    const baseId = makeJobId(args.name, now);
    for (let attempt = 1; attempt <= MAX_PUBLISH_ATTEMPTS; attempt++) {
      const jobId = attempt === 1 ? baseId : withCollisionSuffix(baseId, attempt);
      if (await ctx.catalog.isTaken(jobId)) continue;
      const job = signSubmission(
        SubmittedJobSchema.parse({
          job_id: jobId,
          created_at: isoSeconds(now),
          created_by: agent,
          status: "submitted",
          ...content,
        }),
        ctx.signingKey,
      );
      await writeJsonAtomic(join(staging, JOB_FILE), job);
      const published = await ctx.catalog.publishSubmission(jobId, staging);
      if (!published.published) continue;
      return {
        ...base,
        job_id: jobId,
        status: "submitted",
        created_at: job.created_at,
        created_by: agent,
        outbox_dir: published.folder.dir,
        existing: false,
        ...signedBy(ctx.signingKey?.keyId),
        next: `next: wait_for_job {job_id: "${jobId}", seq: 0} or job_status {job_id: "${jobId}"}; ${ctx.nats ? "NATS offers it to the runners at once" : "Syncthing delivers it to the runner in 5-30 s"}`,
      };
    }
    throw new OperationError(
      "conflict",
      `could not find a free job id for ${baseId} after ${MAX_PUBLISH_ATTEMPTS} tries`,
      "submit again in a second",
    );
  } catch (error) {
    // A failure may have been a full disk: make room by removing what killed submits left behind.
    await cleanStaleStaging(ctx.stagingDir);
    throw error;
  } finally {
    await removeTree(staging);
  }
}
