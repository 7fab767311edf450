import type { SigningKey } from "../../protocol/index.ts";
import type { ServerContext } from "../context.ts";
import type { RunnerView } from "../jobs/runners.ts";
import { readRunners } from "../jobs/runners.ts";
import { OperationError } from "../operations/operation-error.ts";

/** A live runner that runs only signed jobs and would not take one signed (or not) as this server does. */
export function refusingRunner(
  runners: readonly RunnerView[],
  key: SigningKey | undefined,
): RunnerView | undefined {
  return runners.find(
    (runner) =>
      !runner.silent &&
      runner.stopped_at === undefined &&
      runner.trusted_keys !== undefined &&
      (key === undefined || !runner.trusted_keys.includes(key.keyId)),
  );
}

/**
 * Refuses a submission the live runner would fail as untrusted, before anything is copied: its
 * heartbeat lists the key ids it trusts. A runner that names none accepts unsigned jobs. With the
 * workstation's keys, only a heartbeat it signed counts: one written there by anyone else could
 * otherwise make this server refuse every study.
 */
export async function checkRunnerTrust(ctx: ServerContext): Promise<void> {
  const runners = await readRunners(ctx.queue, ctx.now(), { verifiedBy: ctx.trustedKeys });
  const runner = refusingRunner(runners, ctx.signingKey);
  if (!runner) return;
  const trusted = runner.trusted_keys?.join(", ") || "none";
  const signed = ctx.signingKey ? `signed by ${ctx.signingKey.keyId}` : "unsigned";
  throw new OperationError(
    "forbidden",
    `runner ${runner.host} runs only jobs signed by a key it trusts (${trusted}); this server's jobs are ${signed}, so the workstation would refuse this one as untrusted and run nothing`,
    ctx.signingKey
      ? `start this server with the --signing-key whose key id the runner trusts (${trusted}), or add this key's .pub to the runner's --trust-key and restart it`
      : `start this server with --signing-key FILE (or ATOMIZER_SIGNING_KEY): the private key whose .pub the runner trusts (${trusted})`,
    { runner: runner.host, trusted_keys: runner.trusted_keys ?? [] },
  );
}
