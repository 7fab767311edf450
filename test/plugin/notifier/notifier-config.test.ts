import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { channelTarget, resolveNotifierConfig } from "../../../plugin/notifier/notifier-config.ts";

const CHECKOUT = resolve(import.meta.dirname, "../../..");

describe("notifier config", () => {
  it("fills defaults and takes the queue from ATOMIZER_QUEUE_DIR when the config has none", async () => {
    const config = await resolveNotifierConfig(undefined, { ATOMIZER_QUEUE_DIR: "/srv/job-queue" });
    expect(config).toEqual({
      queue: { kind: "folder", dir: "/srv/job-queue", from: "env" },
      enabled: true,
      agentId: "optimizer",
      sessionKey: "agent:optimizer:main",
      channels: {},
      resendAfterMs: 600_000,
    });
  });

  it("derives the session key from the agent", async () => {
    const config = await resolveNotifierConfig(
      { queueDir: "/q", role: "processor", notifier: { postProcessor: { agentId: "tech-lead" } } },
      {},
    );
    expect(config.sessionKey).toBe("agent:tech-lead:main");
  });

  it.each([
    { why: "nothing anywhere", config: {}, env: {}, queue: { kind: "none" } },
    {
      why: "queueDir only",
      config: { queueDir: "/q" },
      env: {},
      queue: { kind: "folder", dir: "/q", from: "config" },
    },
    {
      why: "natsUrl only",
      config: { natsUrl: "nats://queue.lan:4222" },
      env: {},
      queue: { kind: "nats", settings: { url: "nats://queue.lan:4222" }, from: "config" },
    },
    {
      why: "natsUrl with its credentials file",
      config: { natsUrl: "tls://queue.lan:4222", natsCredsFile: "/etc/atomizer/gw.creds" },
      env: { ATOMIZER_NATS_CREDS: "/elsewhere.creds" },
      queue: {
        kind: "nats",
        settings: { url: "tls://queue.lan:4222", credsFile: "/etc/atomizer/gw.creds" },
        from: "config",
      },
    },
    {
      why: "ATOMIZER_NATS_URL and ATOMIZER_NATS_CREDS from the gateway's environment",
      config: {},
      env: { ATOMIZER_NATS_URL: "nats://127.0.0.1:4222", ATOMIZER_NATS_CREDS: "/gw.creds" },
      queue: {
        kind: "nats",
        settings: { url: "nats://127.0.0.1:4222", credsFile: "/gw.creds" },
        from: "env",
      },
    },
    {
      why: "config queueDir before the environment's NATS URL",
      config: { queueDir: "/q" },
      env: { ATOMIZER_NATS_URL: "nats://127.0.0.1:4222" },
      queue: { kind: "folder", dir: "/q", from: "config" },
    },
    {
      why: "config natsUrl before the environment's queue folder",
      config: { natsUrl: "nats://queue.lan:4222" },
      env: { ATOMIZER_QUEUE_DIR: "/srv/job-queue" },
      queue: { kind: "nats", settings: { url: "nats://queue.lan:4222" }, from: "config" },
    },
    {
      why: "blank environment values, as unset",
      config: {},
      env: { ATOMIZER_NATS_URL: " ", ATOMIZER_QUEUE_DIR: "" },
      queue: { kind: "none" },
    },
  ])("takes the queue from $why", async ({ config, env, queue }) => {
    expect((await resolveNotifierConfig(config, env)).queue).toEqual(queue);
  });

  it.each([
    {
      why: "queueDir and natsUrl both",
      config: { queueDir: "/q", natsUrl: "nats://queue.lan:4222" },
      env: {},
      says: "sets both queueDir and natsUrl",
    },
    {
      why: "ATOMIZER_QUEUE_DIR and ATOMIZER_NATS_URL both",
      config: {},
      env: { ATOMIZER_QUEUE_DIR: "/q", ATOMIZER_NATS_URL: "nats://queue.lan:4222" },
      says: "both ATOMIZER_QUEUE_DIR and ATOMIZER_NATS_URL",
    },
    {
      why: "natsCredsFile for a folder queue",
      config: { queueDir: "/q", natsCredsFile: "/gw.creds" },
      env: {},
      says: "natsCredsFile is set, but the queue is not NATS",
    },
    {
      why: "a natsUrl carrying user and password",
      config: { natsUrl: "nats://gateway:s3cret@queue.lan:4222" },
      env: {},
      says: "config.natsUrl is refused: the --nats URL carries a user, password or token",
    },
    {
      why: "an ATOMIZER_NATS_URL carrying a token",
      config: {},
      env: { ATOMIZER_NATS_URL: "nats://t0ken@queue.lan:4222" },
      says: "ATOMIZER_NATS_URL is refused: the --nats URL carries",
    },
    {
      why: "an ATOMIZER_NATS_URL of another scheme",
      config: {},
      env: { ATOMIZER_NATS_URL: "http://queue.lan:4222" },
      says: "has scheme http",
    },
    {
      why: "a natsUrl of another scheme",
      config: { natsUrl: "https://queue.lan" },
      env: {},
      says: "nats://host:4222 or tls://host:4222",
    },
  ])("refuses $why", async ({ config, env, says }) => {
    await expect(resolveNotifierConfig(config, env)).rejects.toThrow(says);
  });

  it("never repeats a refused URL's secret", async () => {
    const refused = await resolveNotifierConfig({ natsUrl: "nats://gw:s3cret@queue.lan:4222" }, {}).then(
      () => "",
      (error: Error) => error.message,
    );
    expect(refused).toContain("refused");
    expect(refused).not.toContain("s3cret");
  });

  it.each([
    {
      why: "a Slack channel name instead of an id",
      channels: { "#m1": { channel: "slack", to: "#m1" } },
      says: "Slack targets are ids",
    },
    {
      why: "a name without #",
      channels: { m1: { channel: "slack", to: "channel:C01" } },
      says: '"#starspec-m1-wfe"',
    },
    { why: "a missing target", channels: { "#m1": { channel: "telegram" } }, says: "to" },
  ])("refuses a channel mapping with $why", async ({ channels, says }) => {
    await expect(resolveNotifierConfig({ notifier: { channels } }, {})).rejects.toThrow(says);
  });

  it("finds a mapping for a channel written with or without #", () => {
    const channels = { "#m1": { channel: "telegram", to: "1" } };
    expect(channelTarget(channels, "#m1")).toEqual({ channel: "telegram", to: "1" });
    expect(channelTarget(channels, "m1")).toEqual({ channel: "telegram", to: "1" });
    expect(channelTarget(channels, "")).toBeUndefined();
  });

  it("matches the manifest's JSON schema keys", async () => {
    const manifest = JSON.parse(await readFile(join(CHECKOUT, "openclaw.plugin.json"), "utf8")) as {
      configSchema: {
        properties: {
          notifier: { properties: Record<string, { properties?: object }> };
          natsUrl: { pattern: string };
        } & Record<string, unknown>;
      };
    };
    const { properties } = manifest.configSchema;
    expect(Object.keys(properties)).toEqual(
      expect.arrayContaining(["queueDir", "natsUrl", "natsCredsFile", "notifier"]),
    );
    // The same pattern as the zod schema's, so OpenClaw's config validate refuses what the notifier would.
    const pattern = new RegExp(properties.natsUrl.pattern);
    expect(["nats://a:4222", "tls://a:4222", "https://a", "a:4222"].map((url) => pattern.test(url))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    const notifier = properties.notifier.properties;
    expect(Object.keys(notifier).sort()).toEqual(["channels", "enabled", "postProcessor", "resendAfterS"]);
    expect(Object.keys(notifier.postProcessor?.properties ?? {}).sort()).toEqual(["agentId", "sessionKey"]);
  });
});
