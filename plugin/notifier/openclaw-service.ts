import { checkQueueLayout } from "../../protocol/index.ts";
import { defaultStateDir } from "../../submitter/catalog/index-location.ts";
import type { NotifierConfig, QueueChoice } from "./notifier-config.ts";
import { resolveNotifierConfig } from "./notifier-config.ts";
import type { NotifierLog, NotifierOptions, NotifierPorts } from "./notifier-engine.ts";
import { NotifierEngine } from "./notifier-engine.ts";

// The slice of OpenClaw's plugin API (2026.9.x, dist/plugin-entry-*.d.ts) this service uses, typed
// here so the plugin does not depend on the openclaw package.
export interface OpenClawLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

interface OutboundAdapter {
  sendText?(context: {
    cfg: unknown;
    to: string;
    text: string;
    accountId?: string;
    threadId?: string | number;
  }): Promise<{ messageId?: unknown } | undefined>;
}

export interface OpenClawServiceContext {
  config: unknown;
  stateDir: string;
  logger: OpenClawLogger;
}

export interface OpenClawService {
  id: string;
  reload?: { configPrefixes: readonly string[] };
  start(ctx: OpenClawServiceContext): Promise<void>;
  stop?(ctx: OpenClawServiceContext): Promise<void>;
}

export interface OpenClawPluginApi {
  registrationMode: string;
  pluginConfig?: Record<string, unknown>;
  logger: OpenClawLogger;
  runtime: {
    channel: { outbound: { loadAdapter(channel: string): Promise<OutboundAdapter | undefined> } };
    system: {
      enqueueSystemEvent(
        text: string,
        options: { agentId?: string; sessionKey: string; contextKey?: string },
      ): boolean;
      requestHeartbeat(options: {
        source: string;
        intent: string;
        reason?: string;
        agentId?: string;
        sessionKey?: string;
      }): void;
    };
  };
  registerService(service: OpenClawService): void;
}

export const SERVICE_ID = "atomizer-job-queue-notifier";

function ports(api: OpenClawPluginApi, ctx: OpenClawServiceContext, log: NotifierLog): NotifierPorts {
  return {
    log,
    async sendText(target, text) {
      const adapter = await api.runtime.channel.outbound.loadAdapter(target.channel);
      if (!adapter?.sendText) {
        throw new Error(
          `channel "${target.channel}" is not available in this gateway: install and configure its channel plugin (openclaw plugins list), or map the channel to one that is`,
        );
      }
      // Called directly, the adapter skips OpenClaw's delivery queue: the engine retries itself.
      const result = await adapter.sendText({
        cfg: ctx.config,
        to: target.to,
        text,
        ...(target.accountId !== undefined ? { accountId: target.accountId } : {}),
        ...(target.threadId !== undefined ? { threadId: target.threadId } : {}),
      });
      const id = result?.messageId;
      return id === undefined || id === null ? {} : { messageId: String(id) };
    },
    enqueueSystemEvent: (text, options) => api.runtime.system.enqueueSystemEvent(text, options),
    requestHeartbeat: (request) => api.runtime.system.requestHeartbeat(request),
  };
}

/** The agent ids this gateway runs: agents.entries keys (or legacy agents.list ids); none configured means "main". */
export function gatewayAgentIds(gatewayConfig: unknown): string[] {
  const agents = (gatewayConfig as { agents?: { entries?: unknown; list?: unknown } } | undefined)?.agents;
  if (agents?.entries && typeof agents.entries === "object") return Object.keys(agents.entries);
  if (Array.isArray(agents?.list)) {
    return agents.list.map((entry) => (entry as { id?: unknown }).id).filter((id) => typeof id === "string");
  }
  return ["main"];
}

/** Why the notifier will not run with this config, or undefined when it will. */
async function offReason(config: NotifierConfig, gatewayConfig: unknown): Promise<string | undefined> {
  if (!config.enabled) return "notifier.enabled is false in the plugin config";
  const agents = gatewayAgentIds(gatewayConfig);
  if (!agents.includes(config.agentId)) {
    // A system event only reaches an agent of the gateway that queues it.
    return `the post-processing agent "${config.agentId}" is not one of this gateway's agents (${agents.join(", ")}); run the notifier in the gateway that hosts it, or set notifier.postProcessor.agentId`;
  }
  const { queue } = config;
  if (queue.kind === "none") {
    return "no queue: set plugins.entries.atomizer-job-queue.config.queueDir (a folder queue) or natsUrl (NATS JetStream) in openclaw.json, or ATOMIZER_QUEUE_DIR or ATOMIZER_NATS_URL in the gateway's environment";
  }
  // A NATS queue's mirror is laid out when the engine opens it; the server is reached then too.
  if (queue.kind === "nats") return undefined;
  const problems = await checkQueueLayout(queue.dir);
  return problems.length > 0 ? problems.join("; ") : undefined;
}

/** The engine's queue options: the folder, or the NATS server read through this user's mirror. */
function queueOptions(
  queue: Exclude<QueueChoice, { kind: "none" }>,
  env: Readonly<Record<string, string | undefined>>,
): Pick<NotifierOptions, "queueDir" | "nats"> {
  if (queue.kind === "folder") return { queueDir: queue.dir };
  // The MCP servers' mirror: ATOMIZER_STATE_DIR when the gateway sets it, else the user's default.
  return { nats: { settings: queue.settings, env: { ...env }, stateDir: defaultStateDir({ ...env }) } };
}

/**
 * The gateway service: starts the notifier engine with OpenClaw's channel adapters, system events
 * and heartbeat wakes as its ports. Restarted by OpenClaw when the plugin or channel config changes.
 */
export function notifierService(
  api: OpenClawPluginApi,
  env: Readonly<Record<string, string | undefined>>,
): OpenClawService {
  let engine: NotifierEngine | undefined;
  return {
    id: SERVICE_ID,
    reload: { configPrefixes: ["plugins.entries.atomizer-job-queue", "channels"] },
    async start(ctx) {
      const log: NotifierLog = ctx.logger ?? api.logger;
      let config: NotifierConfig;
      try {
        config = await resolveNotifierConfig(api.pluginConfig, env);
      } catch (error) {
        log.error(`atomizer-job-queue notifier: off: ${(error as Error).message}`);
        return;
      }
      const off = await offReason(config, ctx.config);
      if (off) {
        log.warn(`atomizer-job-queue notifier: notifications and hand-offs are off: ${off}`);
        return;
      }
      if (config.queue.kind === "none") return;
      engine = new NotifierEngine(
        {
          ...queueOptions(config.queue, env),
          agentId: config.agentId,
          sessionKey: config.sessionKey,
          channels: config.channels,
          resendAfterMs: config.resendAfterMs,
        },
        ports(api, ctx, log),
      );
      await engine.start();
    },
    async stop() {
      await engine?.stop();
      engine = undefined;
    },
  };
}
