import { z } from "zod";
import { describeZodError } from "../../protocol/index.ts";
import type { NatsSettings } from "../../protocol/nats-connect.ts";

/** A team channel name as SYS_19 writes it in job.json (`#starspec-m1-wfe`). */
const CHANNEL_NAME = /^#[^\s#]{1,80}$/;

/** Where one team channel's messages go: an OpenClaw channel kind and a target it understands. */
export const ChannelTargetSchema = z
  .strictObject({
    channel: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,63}$/, 'an OpenClaw channel kind, e.g. "slack" or "telegram"'),
    to: z.string().min(1),
    accountId: z.string().min(1).optional(),
    threadId: z.union([z.string().min(1), z.number().int()]).optional(),
  })
  .refine((target) => target.channel !== "slack" || !target.to.startsWith("#"), {
    message: 'Slack targets are ids ("channel:C0123ABCD"), not names: look the id up in Slack',
    path: ["to"],
  });
export type ChannelTarget = z.infer<typeof ChannelTargetSchema>;

const AgentIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "an OpenClaw agent id");

/** `plugins.entries.atomizer-job-queue.config.notifier` (mirrored in openclaw.plugin.json's configSchema). */
export const NotifierSettingsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  postProcessor: z
    .strictObject({
      agentId: AgentIdSchema.default("optimizer"),
      sessionKey: z.string().min(1).optional(),
    })
    .default({ agentId: "optimizer" }),
  channels: z
    .record(z.string(), ChannelTargetSchema)
    .superRefine((channels, ctx) => {
      for (const name of Object.keys(channels)) {
        if (!CHANNEL_NAME.test(name)) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: `channel names are written as in job.json, e.g. "#starspec-m1-wfe" (got ${JSON.stringify(name)})`,
          });
        }
      }
    })
    .default({}),
  resendAfterS: z.number().int().min(30).default(600),
});
export type NotifierSettings = z.infer<typeof NotifierSettingsSchema>;

/** The plugin config as a whole; keys other parts of the plugin own are accepted and ignored here. */
export const PluginConfigSchema = z.looseObject({
  queueDir: z.string().min(1).optional(),
  natsUrl: z
    .string()
    .regex(/^(nats|tls):\/\//, "a NATS server URL, nats://host:4222 or tls://host:4222")
    .optional(),
  natsCredsFile: z.string().min(1).optional(),
  notifier: NotifierSettingsSchema.default(NotifierSettingsSchema.parse({})),
});

/** Which queue the notifier follows, and where that was said (for the messages). */
export type QueueChoice =
  | { kind: "folder"; dir: string; from: "config" | "env" }
  | { kind: "nats"; settings: NatsSettings; from: "config" | "env" }
  | { kind: "none" };

export interface NotifierConfig {
  queue: QueueChoice;
  enabled: boolean;
  agentId: string;
  sessionKey: string;
  channels: Record<string, ChannelTarget>;
  resendAfterMs: number;
}

const WHERE = "plugins.entries.atomizer-job-queue.config";

function nonEmpty(value: string | undefined): string | undefined {
  return value?.trim() ? value : undefined;
}

/**
 * The queue, picked as the command line does (cli/submitter/cli-support.ts: what is given before the
 * environment), except that both variables set is refused too, not read as NATS: the gateway's MCP
 * servers are told their queue in their own arguments, and a silent pick could follow another one.
 */
function chooseQueue(
  config: { queueDir?: string | undefined; natsUrl?: string | undefined; natsCredsFile?: string | undefined },
  env: Readonly<Record<string, string | undefined>>,
): QueueChoice {
  const envCreds = nonEmpty(env.ATOMIZER_NATS_CREDS);
  if (config.queueDir !== undefined && config.natsUrl !== undefined) {
    throw new Error(
      `${WHERE} sets both queueDir and natsUrl, and each names the queue: keep queueDir for a synced folder queue, or natsUrl for NATS JetStream, then restart the gateway`,
    );
  }
  if (config.natsUrl !== undefined) {
    const credsFile = config.natsCredsFile ?? envCreds;
    return {
      kind: "nats",
      settings: { url: config.natsUrl, ...(credsFile ? { credsFile } : {}) },
      from: "config",
    };
  }
  const refuseStrayCreds = () => {
    if (config.natsCredsFile !== undefined) {
      throw new Error(
        `${WHERE}.natsCredsFile is set, but the queue is not NATS: add natsUrl (or ATOMIZER_NATS_URL), or remove natsCredsFile`,
      );
    }
  };
  if (config.queueDir !== undefined) {
    refuseStrayCreds();
    return { kind: "folder", dir: config.queueDir, from: "config" };
  }
  const envDir = nonEmpty(env.ATOMIZER_QUEUE_DIR);
  const envUrl = nonEmpty(env.ATOMIZER_NATS_URL);
  if (envDir !== undefined && envUrl !== undefined) {
    throw new Error(
      `the gateway's environment sets both ATOMIZER_QUEUE_DIR and ATOMIZER_NATS_URL, and each names the queue: unset one, or name the queue in ${WHERE} (queueDir or natsUrl)`,
    );
  }
  if (envUrl !== undefined) {
    const credsFile = config.natsCredsFile ?? envCreds;
    return { kind: "nats", settings: { url: envUrl, ...(credsFile ? { credsFile } : {}) }, from: "env" };
  }
  refuseStrayCreds();
  return envDir !== undefined ? { kind: "folder", dir: envDir, from: "env" } : { kind: "none" };
}

/**
 * Reads the plugin config OpenClaw hands the entry (api.pluginConfig). OpenClaw validates it against
 * the manifest's JSON schema already; this parse supplies defaults and catches what JSON schema cannot
 * (a Slack channel name where an id belongs, a NATS URL carrying a password, two queues).
 */
export async function resolveNotifierConfig(
  pluginConfig: unknown,
  env: Readonly<Record<string, string | undefined>>,
): Promise<NotifierConfig> {
  const parsed = PluginConfigSchema.safeParse(pluginConfig ?? {});
  if (!parsed.success) {
    throw new Error(
      `${WHERE} is invalid: ${describeZodError(parsed.error)}; fix it in openclaw.json and restart the gateway`,
    );
  }
  const { notifier, ...where } = parsed.data;
  const queue = chooseQueue(where, env);
  if (queue.kind === "nats") {
    // Loaded only for a NATS queue: a gateway on a folder queue never loads the NATS client.
    const { natsSettingsProblem } = await import("../../protocol/nats-connect.ts");
    const problem = natsSettingsProblem(queue.settings);
    const named = queue.from === "config" ? `${WHERE}.natsUrl` : "ATOMIZER_NATS_URL";
    if (problem !== undefined) throw new Error(`${named} is refused: ${problem}`);
  }
  const agentId = notifier.postProcessor.agentId;
  return {
    queue,
    enabled: notifier.enabled,
    agentId,
    sessionKey: notifier.postProcessor.sessionKey ?? `agent:${agentId}:main`,
    channels: notifier.channels,
    resendAfterMs: notifier.resendAfterS * 1000,
  };
}

/** The mapping for a job's channel; a job written without the leading # still finds its entry. */
export function channelTarget(
  channels: Readonly<Record<string, ChannelTarget>>,
  name: string,
): ChannelTarget | undefined {
  const trimmed = name.trim();
  if (trimmed === "") return undefined;
  return channels[trimmed] ?? channels[trimmed.startsWith("#") ? trimmed : `#${trimmed}`];
}
