// The NATS connection settings and credentials (ATOMIZER_NATS_CREDS, _TOKEN, _USER, _PASSWORD, _CA,
// _URL) are the runner's: a job script that had them could rewrite any claim, licence or run record
// of the queue. Jobs and their supervisors get the environment without them.

const NATS_ENV_PREFIX = "ATOMIZER_NATS_";

/** A copy of `env` without any ATOMIZER_NATS_* variable (any case: Windows names are case-insensitive). */
export function withoutNatsSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !name.toUpperCase().startsWith(NATS_ENV_PREFIX)),
  );
}
