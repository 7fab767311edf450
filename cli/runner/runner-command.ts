import { createWriteStream } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { initQueue } from "../../protocol/index.ts";
import type { RunnerConfigInput } from "../../runner/config.ts";
import { defaultPython } from "../../runner/config.ts";
import { createLogger } from "../../runner/log.ts";
import type { NatsRunnerConfigInput } from "../../runner/nats/bridge-config.ts";
import { KeySetupError } from "../../runner/runner-keys.ts";
import { createRunner } from "../../runner/runner-lifecycle.ts";
import {
  HOST_OPTIONS,
  hostCommand,
  KEY_USAGE,
  keyFiles,
  MAX_PERIOD_S,
  parseCount,
  parseLabels,
  parseLicences,
  parseSeconds,
  UsageError,
} from "./options.ts";

const USAGE = `usage: atomizer-jobs runner --queue DIR --work DIR --state DIR [options]
       atomizer-jobs runner --nats URL --work DIR --state DIR [options]

Runs the jobs that arrive in DIR/outbox/ and publishes their state and results to DIR/inbox/.

  --queue DIR           queue root holding outbox/, inbox/, archive/ (or ATOMIZER_QUEUE_DIR)
  --work DIR            local folder for job work copies, outside the synced folders
  --state DIR           local folder for the runner's ledger, outside the synced folders
  --slots N             jobs run at the same time (default 1: one NX licence)
  --python PATH         Python for .py scripts, the one with NX Open and Optuna (default ${defaultPython()})
  --once                handle what is there, wait for those runs to end, then exit
  --heartbeat S         rewrite running jobs' job.json and the runner heartbeat every S seconds (default 10)
  --rescan S            full outbox rescan every S seconds (default 15)
  --grace S             fail a job whose files have not all arrived after S seconds (default 7200)
  --settle S            quiet time before a job without manifest is taken (default 60)
  --max-runtime S       runner-wide limit on a run (default 604800, 7 days)
  --kill-grace S        POSIX: SIGTERM to SIGKILL delay when stopping a job (default 10)
  --work-retention S    keep a finished job's work copy S seconds after its outbox entry is gone (default 604800)
  --cleanup-delay S     an outbox entry must stay gone S seconds before cleanup (default 60)
  --host NAME           name in inbox/.runners/NAME.json (default: this computer's name)
  --nx-job-types LIST   comma-separated job types that start NX and need a licence (default optimization)
  --licence-server S    licence servers port@host[;port@host] (default: SPLM_LICENSE_SERVER)
  --licence-poll S      while no licence server answers, knock on its port every S seconds (default 5)
  --log-file FILE       append the log to FILE instead of stderr (the Windows service uses this)
${KEY_USAGE}  --allow-other-runners take jobs even while another runner is live on this queue (a job could
                        then run twice: only for runners that share no jobs)

Several workstations (NATS JetStream; docs/deployment.md, "Several workstations"):
  --nats URL            take jobs from the NATS server at URL (nats://host:4222 or tls://host:4222); the
                        runner then works on a local queue, by default STATE/nats-queue (--queue DIR
                        overrides it; ATOMIZER_QUEUE_DIR is not used)
  --nats-creds FILE     NATS credentials file (or ATOMIZER_NATS_CREDS, ATOMIZER_NATS_TOKEN,
                        ATOMIZER_NATS_USER + ATOMIZER_NATS_PASSWORD); never put them in the URL
  --labels LIST         what this runner offers, name=value,... (e.g. nx=2512,os=win): a job asking
                        for labels runs only on a runner with every one of them
  --licences LIST       pool-wide licence limits, class=N,... (e.g. nx=4), stored in NATS at start
  --lease-s S           a claim holds S seconds unless renewed (default 600); a runner that cannot
                        renew within half of it stops its own job
  --help                show this help
`;

function toConfig(
  argv: string[],
): { config: RunnerConfigInput; logFile?: string; initLocalQueue?: string } | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...HOST_OPTIONS,
      slots: { type: "string" },
      once: { type: "boolean" },
      heartbeat: { type: "string" },
      rescan: { type: "string" },
      grace: { type: "string" },
      settle: { type: "string" },
      "max-runtime": { type: "string" },
      "kill-grace": { type: "string" },
      "work-retention": { type: "string" },
      "cleanup-delay": { type: "string" },
      host: { type: "string" },
      "nx-job-types": { type: "string" },
      "licence-poll": { type: "string" },
      "log-file": { type: "string" },
      "allow-other-runners": { type: "boolean" },
      nats: { type: "string" },
      "nats-creds": { type: "string" },
      labels: { type: "string" },
      licences: { type: "string" },
      "lease-s": { type: "string" },
    },
  });
  if (values.help) return "help";
  const nats = natsOptions(values);
  // --once ends when the local queue is empty, which with NATS is before the first job is taken.
  if (nats && values.once)
    throw new UsageError("--once does not apply with --nats: the runner takes jobs until stopped");
  // A local queue only the runner and its bridge touch: never the synced folder ATOMIZER_QUEUE_DIR names.
  const localQueue =
    nats && !values.queue && values.state ? path.join(values.state, "nats-queue") : undefined;
  const queueDir = values.queue ?? localQueue ?? process.env.ATOMIZER_QUEUE_DIR;
  const missing = [
    queueDir ? undefined : "--queue DIR (the queue root with outbox/ and inbox/)",
    values.work ? undefined : "--work DIR (a local folder for work copies)",
    values.state ? undefined : "--state DIR (a local folder for the ledger)",
  ].filter((m): m is string => m !== undefined);
  if (missing.length > 0 || !queueDir || !values.work || !values.state)
    throw new UsageError(`runner needs ${missing.join(", ")}`);
  const optional = {
    slots: parseCount("slots", values.slots),
    python: values.python,
    once: values.once,
    host: values.host,
    allowOtherRunners: values["allow-other-runners"],
    heartbeatS: parseSeconds("heartbeat", values.heartbeat, false, MAX_PERIOD_S),
    rescanS: parseSeconds("rescan", values.rescan, false, MAX_PERIOD_S),
    graceS: parseSeconds("grace", values.grace),
    settleS: parseSeconds("settle", values.settle),
    maxRuntimeS: parseSeconds("max-runtime", values["max-runtime"]),
    killGraceS: parseSeconds("kill-grace", values["kill-grace"], false, MAX_PERIOD_S),
    workRetentionS: parseSeconds("work-retention", values["work-retention"], true),
    cleanupDelayS: parseSeconds("cleanup-delay", values["cleanup-delay"], true),
    nxJobTypes: values["nx-job-types"]
      ?.split(",")
      .map((t) => t.trim())
      .filter((t) => t.length > 0),
    licenceServer: values["licence-server"],
    licencePollS: parseSeconds("licence-poll", values["licence-poll"], false, MAX_PERIOD_S),
  };
  const defined = Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined));
  const config = {
    queueDir,
    workDir: values.work,
    stateDir: values.state,
    ...defined,
    ...keyFiles(values),
    ...(nats ? { nats } : {}),
  };
  return {
    config,
    ...(values["log-file"] ? { logFile: values["log-file"] } : {}),
    ...(localQueue ? { initLocalQueue: localQueue } : {}),
  };
}

/** The --nats settings; the other NATS options without --nats are a mistake, not silently ignored. */
function natsOptions(values: {
  nats?: string | undefined;
  "nats-creds"?: string | undefined;
  labels?: string | undefined;
  licences?: string | undefined;
  "lease-s"?: string | undefined;
}): NatsRunnerConfigInput | undefined {
  if (values.nats === undefined) {
    const stray = (["nats-creds", "labels", "licences", "lease-s"] as const).filter(
      (name) => values[name] !== undefined,
    );
    if (stray.length > 0)
      throw new UsageError(`${stray.map((name) => `--${name}`).join(", ")} only apply with --nats URL`);
    return undefined;
  }
  const labels = parseLabels(values.labels);
  const licences = parseLicences(values.licences);
  const leaseS = parseSeconds("lease-s", values["lease-s"], false, MAX_PERIOD_S);
  return {
    url: values.nats,
    ...(values["nats-creds"] !== undefined ? { credsFile: values["nats-creds"] } : {}),
    ...(labels ? { labels } : {}),
    ...(licences ? { licences } : {}),
    ...(leaseS !== undefined ? { leaseS } : {}),
  };
}

export const run = hostCommand("runner", USAGE, toConfig, async (parsed) => {
  if (parsed.config.nats) {
    // Loaded only with --nats: a folder-queue runner never loads the NATS client.
    const { natsSettingsProblem } = await import("../../protocol/nats-connect.ts");
    const problem = natsSettingsProblem(parsed.config.nats);
    if (problem) {
      process.stderr.write(`atomizer-jobs runner: ${problem}\n\n${USAGE}`);
      return 2;
    }
  }
  if (parsed.initLocalQueue) await initQueue(parsed.initLocalQueue);
  // A service has no console: its log goes to a file (appended, so restarts keep the history).
  const logFile = parsed.logFile ? createWriteStream(parsed.logFile, { flags: "a" }) : undefined;
  const runner = createRunner(parsed.config, logFile ? { log: createLogger(logFile) } : {});
  const stop = () => void runner.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await runner.start();
    await runner.done;
    await runner.stop();
  } catch (error) {
    await runner.stop().catch(() => undefined);
    // A key it cannot use is a setup mistake, like a bad option: nothing was looked at, exit 2.
    if (error instanceof KeySetupError) {
      process.stderr.write(`atomizer-jobs runner: ${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await new Promise((resolve) => (logFile ? logFile.end(resolve) : resolve(undefined)));
  }
  return 0;
});
