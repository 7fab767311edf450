import { userInfo } from "node:os";
import type { ParseArgsConfig } from "node:util";
import { parseArgs } from "node:util";
import type { NatsSettings } from "../../protocol/nats-connect.ts";
import { natsMirrorFor } from "../../submitter/catalog/nats-mirror-location.ts";
import type { ContextOptions, ServerContext } from "../../submitter/context.ts";
import { createServerContext } from "../../submitter/context.ts";
import {
  describeOperationError,
  OperationError,
  toOperationError,
} from "../../submitter/operations/operation-error.ts";
import type { SubmitterKeys } from "../../submitter/signing/submitter-keys.ts";
import type { KeyValues } from "./key-options.ts";
import { commandKeys } from "./key-options.ts";

export type Options = NonNullable<ParseArgsConfig["options"]>;

/** The NATS backend's options (--nats URL instead of --queue DIR); every queue command and mcp take them. */
export const NATS_OPTIONS = {
  nats: { type: "string" },
  "nats-creds": { type: "string" },
} as const satisfies Options;

/** Their lines in a command's usage. */
export const NATS_USAGE = `  --nats URL           the queue is carried by NATS JetStream at URL (or ATOMIZER_NATS_URL), instead of --queue;
                       this side reads a local mirror of it under the state folder
  --nats-creds FILE    NATS credentials file (or ATOMIZER_NATS_CREDS; else ATOMIZER_NATS_TOKEN, or
                       ATOMIZER_NATS_USER + ATOMIZER_NATS_PASSWORD); never put them in the URL`;

/** Options every queue command accepts. */
export const QUEUE_OPTIONS = {
  queue: { type: "string" },
  ...NATS_OPTIONS,
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

export class UsageError extends Error {}

export function parse<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${usage}`);
  }
}

/** The single JOB_ID a job command takes. */
export function oneJobId(positionals: readonly string[], usage: string): string {
  const [jobId] = positionals;
  if (!jobId || positionals.length > 1) throw new UsageError(`give one JOB_ID\n\n${usage}`);
  return jobId;
}

export function noPositionals(positionals: readonly string[], usage: string): void {
  if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(" ")}\n\n${usage}`);
}

export function queueRoot(value: string | undefined, usage: string): string {
  const root = value ?? process.env.ATOMIZER_QUEUE_DIR;
  if (!root)
    throw new UsageError(`the queue folder is needed: --queue DIR or ATOMIZER_QUEUE_DIR\n\n${usage}`);
  return root;
}

export interface BackendValues {
  queue?: string | undefined;
  nats?: string | undefined;
  "nats-creds"?: string | undefined;
}

/**
 * Which queue a command works on: the folder queue (--queue, ATOMIZER_QUEUE_DIR) or NATS (--nats,
 * ATOMIZER_NATS_URL). `queueRoot` is the folder queue the operations see: with NATS, the local mirror
 * in `stateDir` (key files are refused inside it as inside a synced queue).
 */
export async function queueBackend(
  values: BackendValues,
  usage: string,
  stateDir?: string,
): Promise<{ queueRoot: string; nats?: NatsSettings }> {
  if (values.nats !== undefined && values.queue !== undefined)
    throw new UsageError(`--queue and --nats each name the queue: give one of them\n\n${usage}`);
  const url =
    values.queue !== undefined ? undefined : (values.nats ?? (process.env.ATOMIZER_NATS_URL || undefined));
  if (url === undefined) {
    if (values["nats-creds"] !== undefined) throw new UsageError(`--nats-creds needs --nats URL\n\n${usage}`);
    const root = values.queue ?? process.env.ATOMIZER_QUEUE_DIR;
    if (!root)
      throw new UsageError(
        `the queue is needed: --queue DIR (or ATOMIZER_QUEUE_DIR), or --nats URL (or ATOMIZER_NATS_URL)\n\n${usage}`,
      );
    return { queueRoot: root };
  }
  const nats: NatsSettings = {
    url,
    ...(values["nats-creds"] !== undefined ? { credsFile: values["nats-creds"] } : {}),
  };
  // Loaded only here: a folder-queue command never loads the NATS client.
  const { natsSettingsProblem } = await import("../../protocol/nats-connect.ts");
  const problem = natsSettingsProblem(nats);
  if (problem !== undefined) throw new UsageError(`${problem}\n\n${usage}`);
  return { queueRoot: natsMirrorFor(stateDir, url).queueRoot, nats };
}

/** Who a person's CLI command acts as: --agent, ATOMIZER_AGENT, else the login name. */
export function cliAgent(value: string | undefined): string {
  const raw = value ?? process.env.ATOMIZER_AGENT ?? safeUserName();
  const cleaned = raw
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 64);
  return cleaned.length > 0 ? cleaned : "cli-user";
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return "cli-user";
  }
}

export function out(lines: string | readonly string[]): void {
  process.stdout.write(`${typeof lines === "string" ? lines : lines.join("\n")}\n`);
}

export function outJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Runs a command body: --help prints the usage; refusals are exit 1 with the message and advice on
 * stderr (JSON on stdout with --json), usage errors exit 2.
 */
export async function runCli(
  argv: string[],
  usage: string,
  body: (argv: string[]) => Promise<number>,
): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    out(usage);
    return 0;
  }
  const json = argv.includes("--json");
  try {
    return await body(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    const failure = toOperationError(error);
    if (json)
      outJson({ error: { code: failure.code, message: failure.message, hint: failure.hint ?? null } });
    else process.stderr.write(`error (${failure.code}): ${describeOperationError(failure)}\n`);
    return 1;
  }
}

async function withContext<T>(options: ContextOptions, body: (ctx: ServerContext) => Promise<T>): Promise<T> {
  let ctx: ServerContext;
  try {
    ctx = await createServerContext(options);
  } catch (error) {
    throw new OperationError(
      "invalid_argument",
      (error as Error).message,
      options.nats
        ? "check --nats (or ATOMIZER_NATS_URL), its credentials, and that nats-server runs there"
        : "check --queue (or ATOMIZER_QUEUE_DIR)",
    );
  }
  try {
    return await body(ctx);
  } finally {
    await ctx.close();
  }
}

/** A command line as a queue command sees it: parsed options and positionals, and what came after `--`. */
export type CommandLine<O extends Options> = ReturnType<typeof parse<O>> & { rest: string[] };

/** How a one-shot queue command is declared; queueCommand() does the rest. */
export interface QueueCommandSpec<O extends Options, A> {
  usage: string;
  options: O;
  /** The arguments after `--` are the command's `rest`, not positionals (submit's script arguments). */
  passThrough?: boolean;
  /**
   * Reads the command line into what `run` takes. It runs before the queue is opened, so a usage
   * mistake is exit 2 whatever state the queue is in.
   */
  args: (line: CommandLine<O>) => A | Promise<A>;
  /** How the queue is opened besides its root (a one-shot command never builds the index). */
  context?: (line: CommandLine<O>, args: A) => Omit<ContextOptions, "queueRoot" | "withIndex">;
  run: (ctx: ServerContext, args: A, line: CommandLine<O>) => Promise<number>;
}

/**
 * A submitter command's `run(argv)`: --help, parsing, the queue folder (--queue or
 * ATOMIZER_QUEUE_DIR), a context without index that is closed afterwards, and runCli's exit codes.
 */
export function queueCommand<O extends Options, A>(
  spec: QueueCommandSpec<O, A>,
): (argv: string[]) => Promise<number> {
  const usage = "nats" in spec.options ? `${spec.usage}\n${NATS_USAGE}` : spec.usage;
  return (argv) =>
    runCli(argv, usage, async () => {
      const dashDash = spec.passThrough ? argv.indexOf("--") : -1;
      const own = dashDash >= 0 ? argv.slice(0, dashDash) : argv;
      const line = {
        ...parse(own, spec.options, usage),
        rest: dashDash >= 0 ? argv.slice(dashDash + 1) : [],
      };
      const args = await spec.args(line);
      const backend = await queueBackend(line.values as BackendValues, usage);
      const keys =
        "signing-key" in spec.options ? await keysOrUsage(line.values as KeyValues, backend.queueRoot) : {};
      return withContext(
        {
          ...spec.context?.(line, args),
          ...keys,
          queueRoot: backend.queueRoot,
          ...(backend.nats ? { nats: backend.nats } : {}),
          withIndex: false,
        },
        (ctx) => spec.run(ctx, args, line),
      );
    });
}

/** The command's key files loaded; a missing, unsafe or misplaced one is a usage error (exit 2). */
export async function keysOrUsage(values: KeyValues, root: string): Promise<SubmitterKeys> {
  try {
    return await commandKeys(values, root);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function intOption(value: string | undefined, name: string, usage: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0)
    throw new UsageError(`--${name} must be a whole number, got ${value}\n\n${usage}`);
  return number;
}
