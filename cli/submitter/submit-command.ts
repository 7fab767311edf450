import { realpath } from "node:fs/promises";
import { resolve } from "node:path";
import { decodeUtf8Strict, openRegularFile, readBoundedBytes } from "../../protocol/index.ts";
import { submitText } from "../../submitter/mcp/tool-text.ts";
import { submitJob } from "../../submitter/operations/submit-job.ts";
import { parseLabels } from "../runner/options.ts";
import { cliAgent, intOption, out, outJson, QUEUE_OPTIONS, queueCommand, UsageError } from "./cli-support.ts";
import { KEY_OPTIONS, KEY_USAGE } from "./key-options.ts";

const USAGE = `usage: atomizer-jobs submit STUDY_DIR --name NAME --project SLUG [options] [-- SCRIPT ARGS...]

Checks the study folder and publishes it to outbox/ as a new job.
  --name NAME              descriptive name; becomes the job id's slug
  --project SLUG           project, e.g. starspec-m1-wfe
  --channel CHANNEL        channel to notify (default #<project>)
  --type TYPE              job type (default optimization)
  --script PATH            script inside the study (default run_optimization.py)
  --timeout SECONDS        wall-clock limit
  --readme-file FILE       README text to use when the study has no README.md
  --idempotency-key KEY    retry-safe: the same key and content returns the existing job
  --resume-from JOB_ID     continue that finished job's Optuna study: its verified
                           3_results/study.db is shipped as this job's 3_results/study.db
  --labels LIST            runner labels the job needs, name=value,... (e.g. nx=2512); with --nats,
                           only a runner started with all of them takes it
  --no-notify-complete, --no-notify-fail
  --agent NAME             created_by (or ATOMIZER_AGENT; default your login name)
  --allow DIR              folders the study may be in (default: the study folder itself)
${KEY_USAGE}
  --queue DIR, --json
Arguments after -- are passed to the script, e.g. -- --start --trials 50`;

const OPTIONS = {
  ...QUEUE_OPTIONS,
  ...KEY_OPTIONS,
  name: { type: "string" },
  project: { type: "string" },
  channel: { type: "string" },
  type: { type: "string" },
  script: { type: "string" },
  timeout: { type: "string" },
  "readme-file": { type: "string" },
  "idempotency-key": { type: "string" },
  "resume-from": { type: "string" },
  labels: { type: "string" },
  "no-notify-complete": { type: "boolean" },
  "no-notify-fail": { type: "boolean" },
  agent: { type: "string" },
  allow: { type: "string", multiple: true },
} as const;

/** --readme-file's text: a regular file (a FIFO would block the command), bounded, strict UTF-8. */
async function readReadmeFile(file: string): Promise<string> {
  const handle = await openRegularFile(await realpath(file));
  try {
    return decodeUtf8Strict(await readBoundedBytes(handle, file, 4 * 50_000), file);
  } finally {
    await handle.close();
  }
}

/** `--labels nx=2512,os=win`, parsed as the runner parses its own. */
function labelsOption(value: string | undefined): Record<string, string> | undefined {
  try {
    return parseLabels(value);
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
}

export const run = queueCommand({
  usage: USAGE,
  options: OPTIONS,
  passThrough: true,
  args: async ({ values, positionals }) => {
    const [studyDir, ...extra] = positionals;
    if (!studyDir || extra.length > 0) throw new UsageError(`give exactly one STUDY_DIR\n\n${USAGE}`);
    if (!values.name || !values.project)
      throw new UsageError(`--name and --project are required\n\n${USAGE}`);
    return {
      studyDir,
      name: values.name,
      project: values.project,
      readme: values["readme-file"] ? await readReadmeFile(values["readme-file"]) : undefined,
      timeout: intOption(values.timeout, "timeout", USAGE),
      labels: labelsOption(values.labels),
    };
  },
  context: ({ values }, { studyDir }) => ({ allow: values.allow ?? [resolve(studyDir)] }),
  run: async (ctx, { studyDir, name, project, readme, timeout, labels }, { values, rest: scriptArgs }) => {
    const result = await submitJob(
      ctx,
      {
        study_dir: studyDir,
        name,
        project,
        ...(values.channel ? { channel: values.channel } : {}),
        ...(values.type ? { type: values.type } : {}),
        ...(values.script ? { script: values.script } : {}),
        args: scriptArgs,
        notify: { on_complete: !values["no-notify-complete"], on_fail: !values["no-notify-fail"] },
        ...(timeout !== undefined ? { timeout_s: timeout } : {}),
        ...(readme !== undefined ? { readme } : {}),
        ...(values["idempotency-key"] ? { idempotency_key: values["idempotency-key"] } : {}),
        ...(values["resume-from"] ? { resume_from: values["resume-from"] } : {}),
        ...(labels ? { labels } : {}),
      },
      cliAgent(values.agent),
    );
    if (values.json) outJson(result);
    else
      out(
        submitText(result).map((line) =>
          line.replace(/^next: wait_for_job .*$/, `next: atomizer-jobs wait ${result.job_id}`),
        ),
      );
    return 0;
  },
});
