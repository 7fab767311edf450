import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LOCK_FILE } from "../../../plugin/notifier/notifier-lock.ts";
import type { OpenClawPluginApi, OpenClawService } from "../../../plugin/notifier/openclaw-service.ts";
import { gatewayAgentIds, notifierService, SERVICE_ID } from "../../../plugin/notifier/openclaw-service.ts";
import entry from "../../../plugin/plugin-entry.ts";
import { pathExists } from "../../../protocol/index.ts";
import { natsMirrorFor } from "../../../submitter/catalog/nats-mirror-location.ts";
import { natsServerPresent, startNatsServer } from "../../helpers/nats-server.ts";
import { readLedger, tempQueue, waitFor } from "./engine-harness.ts";
import { CHANNEL, publishJob } from "./queue-fixture.ts";

interface Fake {
  api: OpenClawPluginApi;
  services: OpenClawService[];
  logs: string[];
  sent: unknown[];
  events: string[];
}

function fakeApi(mode: string, pluginConfig: Record<string, unknown>): Fake {
  const fake: Fake = {
    services: [],
    logs: [],
    sent: [],
    events: [],
    api: undefined as unknown as OpenClawPluginApi,
  };
  const logger = {
    info: (m: string) => fake.logs.push(`info ${m}`),
    warn: (m: string) => fake.logs.push(`warn ${m}`),
    error: (m: string) => fake.logs.push(`error ${m}`),
  };
  fake.api = {
    registrationMode: mode,
    pluginConfig,
    logger,
    runtime: {
      channel: {
        outbound: {
          loadAdapter: async (kind) =>
            kind === "telegram"
              ? {
                  sendText: async (ctx) => {
                    fake.sent.push(ctx);
                    return { messageId: 9 };
                  },
                }
              : undefined,
        },
      },
      system: {
        enqueueSystemEvent: (text) => {
          fake.events.push(text);
          return true;
        },
        requestHeartbeat: () => undefined,
      },
    },
    registerService: (service) => fake.services.push(service),
  };
  return fake;
}

const GATEWAY = { agents: { entries: { optimizer: {}, manager: {} } } };
const JOB = "job-20260210-143022-starspec-m1-wfe-sweep";

describe("the OpenClaw service", () => {
  let queueDir: string;
  let cleanup: () => Promise<void>;
  const started: { service: OpenClawService; ctx: Parameters<OpenClawService["start"]>[0] }[] = [];

  beforeEach(async () => {
    ({ queueDir, cleanup } = await tempQueue());
  });
  afterEach(async () => {
    for (const { service, ctx } of started.splice(0)) await service.stop?.(ctx);
    await cleanup();
  });

  it("registers only on a full load", () => {
    const discovery = fakeApi("discovery", {});
    entry.register(discovery.api);
    expect(discovery.services).toEqual([]);
    const full = fakeApi("full", {});
    entry.register(full.api);
    expect(full.services.map((s) => s.id)).toEqual([SERVICE_ID]);
  });

  it.each([
    {
      why: "no queue is configured",
      config: {},
      gateway: GATEWAY,
      says: "no queue: set plugins.entries.atomizer-job-queue.config.queueDir",
    },
    {
      why: "the config names two queues",
      config: { natsUrl: "nats://127.0.0.1:4222" },
      gateway: GATEWAY,
      says: "off: plugins.entries.atomizer-job-queue.config sets both queueDir and natsUrl",
    },
    {
      why: "it is disabled",
      config: { notifier: { enabled: false } },
      gateway: GATEWAY,
      says: "notifier.enabled is false",
    },
    {
      why: "the agent lives in another gateway",
      config: {},
      gateway: { agents: { entries: { manager: {} } } },
      says: 'agent "optimizer" is not one of this gateway\'s agents (manager)',
    },
  ])("stays off, saying why, when $why", async ({ config, gateway, says }) => {
    const fake = fakeApi("full", { ...config, ...(says.startsWith("no queue") ? {} : { queueDir }) });
    entry.register(fake.api);
    const service = fake.services[0];
    if (!service) throw new Error("no service");
    const ctx = { config: gateway, stateDir: queueDir, logger: fake.api.logger };
    await service.start(ctx);
    started.push({ service, ctx });
    expect(fake.logs.join("\n")).toContain(says);
  });

  it("runs the engine with OpenClaw's adapter and system events as ports", async () => {
    const fake = fakeApi("full", {
      queueDir,
      notifier: { channels: { [CHANNEL]: { channel: "telegram", to: "55" } } },
    });
    entry.register(fake.api);
    const service = fake.services[0];
    if (!service) throw new Error("no service");
    const ctx = { config: GATEWAY, stateDir: queueDir, logger: fake.api.logger };
    await service.start(ctx);
    started.push({ service, ctx });
    await publishJob(queueDir, { jobId: JOB, status: "completed" });
    await waitFor(
      "the send",
      async () => (await readLedger(queueDir)).jobs[JOB]?.notified.state === "sent",
      20_000,
    );
    expect(fake.sent[0]).toMatchObject({ cfg: GATEWAY, to: "55" });
    expect((await readLedger(queueDir)).jobs[JOB]?.notified).toMatchObject({ message_id: "9" });
  });

  it.runIf(natsServerPresent())(
    "runs the engine on the NATS queue natsUrl names, in the mirror under ATOMIZER_STATE_DIR",
    async () => {
      const server = await startNatsServer();
      try {
        const fake = fakeApi("full", { natsUrl: server.url });
        // Beside the folder queue, not in it: a state folder inside a queue is refused.
        const stateDir = join(dirname(queueDir), "gateway-state");
        const service = notifierService(fake.api, { ATOMIZER_STATE_DIR: stateDir });
        const ctx = { config: GATEWAY, stateDir: queueDir, logger: fake.api.logger };
        await service.start(ctx);
        started.push({ service, ctx });
        const mirror = natsMirrorFor(stateDir, server.url).queueRoot;
        expect(fake.logs.join("\n")).toContain(`acting for NATS ${server.url} (mirror ${mirror})`);
        expect(await pathExists(join(mirror, ".state", "notifier", LOCK_FILE))).toBe(true);
        await service.stop?.(ctx);
        started.pop();
      } finally {
        await server.stop();
      }
    },
  );

  it("knows a gateway's agents from entries, a legacy list, or the default", () => {
    expect(gatewayAgentIds(GATEWAY)).toEqual(["optimizer", "manager"]);
    expect(gatewayAgentIds({ agents: { list: [{ id: "ops" }] } })).toEqual(["ops"]);
    expect(gatewayAgentIds({})).toEqual(["main"]);
  });
});
