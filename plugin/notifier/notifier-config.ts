import { z } from "zod";
import { describeZodError } from "../../protocol/index.ts";

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
  notifier: NotifierSettingsSchema.default(NotifierSettingsSchema.parse({})),
});

export interface NotifierConfig {
  /** The queue root, or undefined when neither the config nor ATOMIZER_QUEUE_DIR names one. */
  queueDir: string | undefined;
  /** Where queueDir came from, for the start-up log line. */
  queueDirFrom: "config" | "env" | "none";
  enabled: boolean;
  agentId: string;
  sessionKey: string;
  channels: Record<string, ChannelTarget>;
  resendAfterMs: number;
}

/**
 * Reads the plugin config OpenClaw hands the entry (api.pluginConfig). OpenClaw validates it against
 * the manifest's JSON schema already; this parse supplies defaults and catches what JSON schema cannot
 * (a Slack channel name where an id belongs).
 */
export function resolveNotifierConfig(
  pluginConfig: unknown,
  env: Readonly<Record<string, string | undefined>>,
): NotifierConfig {
  const parsed = PluginConfigSchema.safeParse(pluginConfig ?? {});
  if (!parsed.success) {
    throw new Error(
      `plugins.entries.atomizer-job-queue.config is invalid: ${describeZodError(parsed.error)}; fix it in openclaw.json and restart the gateway`,
    );
  }
  const { queueDir, notifier } = parsed.data;
  const fromEnv = env.ATOMIZER_QUEUE_DIR?.trim() ? env.ATOMIZER_QUEUE_DIR : undefined;
  const agentId = notifier.postProcessor.agentId;
  return {
    queueDir: queueDir ?? fromEnv,
    queueDirFrom: queueDir ? "config" : fromEnv ? "env" : "none",
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
