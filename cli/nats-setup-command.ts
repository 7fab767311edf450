import type { NatsSettings } from "../protocol/nats-connect.ts";
import { parseLicences } from "./runner/options.ts";
import {
  NATS_OPTIONS,
  NATS_USAGE,
  noPositionals,
  out,
  outJson,
  parse,
  runCli,
  UsageError,
} from "./submitter/cli-support.ts";

const USAGE = `usage: atomizer-jobs nats-setup --nats URL [--ack-wait-s N] [--licences nx=4,...] [--json]

Creates what the queue needs on a NATS JetStream server (KV bucket, object store, dispatch stream and
its consumer, licence pools), keeping what is there; prints what it created, kept or changed. Safe to
run again: runners and submitters also run it (without limits) when they connect.
${NATS_USAGE}
  --ack-wait-s N       seconds a runner has to acknowledge a dispatched job before it is offered again
                       (default 30; given, an existing consumer is brought to it)
  --licences LIST      pool-wide licence limits, class=N,... (e.g. nx=4); given, a pool's limit is
                       brought to N and who holds a licence is kept`;

const OPTIONS = {
  ...NATS_OPTIONS,
  "ack-wait-s": { type: "string" },
  licences: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function ackWait(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(
      `--ack-wait-s must be a positive number of seconds, not ${JSON.stringify(value)}\n\n${USAGE}`,
    );
  return seconds;
}

function licences(value: string | undefined): Record<string, number> | undefined {
  try {
    return parseLicences(value);
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
}

export function run(argv: string[]): Promise<number> {
  return runCli(argv, USAGE, async () => {
    const { values, positionals } = parse(argv, OPTIONS, USAGE);
    noPositionals(positionals, USAGE);
    const url = values.nats ?? (process.env.ATOMIZER_NATS_URL || undefined);
    if (url === undefined)
      throw new UsageError(`the NATS server is needed: --nats URL or ATOMIZER_NATS_URL\n\n${USAGE}`);
    const settings: NatsSettings = {
      url,
      ...(values["nats-creds"] ? { credsFile: values["nats-creds"] } : {}),
    };
    const ackWaitS = ackWait(values["ack-wait-s"]);
    const limits = licences(values.licences);
    const options = {
      ...(ackWaitS !== undefined ? { ackWaitS } : {}),
      ...(limits ? { licences: limits } : {}),
    };
    // Loaded only here: no other command of this module needs the NATS client.
    const { natsSettingsProblem, openNats } = await import("../protocol/nats-connect.ts");
    const { natsSetup } = await import("../protocol/nats-setup.ts");
    const problem = natsSettingsProblem(settings);
    if (problem !== undefined) throw new UsageError(`${problem}\n\n${USAGE}`);
    // Whether the queue was there before: openNats sets up the defaults itself when it was not, and
    // the lines below then describe a queue created a moment ago.
    const fresh = await openNats(settings, process.env, { setup: false, name: "atomizer-nats-setup" }).then(
      async (probe) => {
        await probe.close();
        return false;
      },
      () => true,
    );
    const nats = await openNats(settings, process.env, { name: "atomizer-nats-setup" });
    try {
      const lines = [
        ...(fresh ? [`no queue was set up on ${url}: created it with the defaults`] : []),
        ...(await natsSetup(nats.nc, options)),
      ];
      if (values.json) outJson({ url, created: fresh, lines });
      else out(lines);
    } finally {
      await nats.close();
    }
    return 0;
  });
}
