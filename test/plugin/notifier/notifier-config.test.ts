import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { channelTarget, resolveNotifierConfig } from "../../../plugin/notifier/notifier-config.ts";

const CHECKOUT = resolve(import.meta.dirname, "../../..");

describe("notifier config", () => {
  it("fills defaults and takes the queue from ATOMIZER_QUEUE_DIR when the config has none", () => {
    const config = resolveNotifierConfig(undefined, { ATOMIZER_QUEUE_DIR: "/srv/job-queue" });
    expect(config).toEqual({
      queueDir: "/srv/job-queue",
      queueDirFrom: "env",
      enabled: true,
      agentId: "optimizer",
      sessionKey: "agent:optimizer:main",
      channels: {},
      resendAfterMs: 600_000,
    });
    expect(resolveNotifierConfig({}, {}).queueDirFrom).toBe("none");
  });

  it("prefers config queueDir and derives the session key from the agent", () => {
    const config = resolveNotifierConfig(
      { queueDir: "/q", role: "processor", notifier: { postProcessor: { agentId: "tech-lead" } } },
      { ATOMIZER_QUEUE_DIR: "/other" },
    );
    expect(config).toMatchObject({
      queueDir: "/q",
      queueDirFrom: "config",
      sessionKey: "agent:tech-lead:main",
    });
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
  ])("refuses $why", ({ channels, says }) => {
    expect(() => resolveNotifierConfig({ notifier: { channels } }, {})).toThrow(says);
  });

  it("finds a mapping for a channel written with or without #", () => {
    const channels = { "#m1": { channel: "telegram", to: "1" } };
    expect(channelTarget(channels, "#m1")).toEqual({ channel: "telegram", to: "1" });
    expect(channelTarget(channels, "m1")).toEqual({ channel: "telegram", to: "1" });
    expect(channelTarget(channels, "")).toBeUndefined();
  });

  it("matches the manifest's JSON schema keys", async () => {
    const manifest = JSON.parse(await readFile(join(CHECKOUT, "openclaw.plugin.json"), "utf8")) as {
      configSchema: { properties: { notifier: { properties: Record<string, { properties?: object }> } } };
    };
    const notifier = manifest.configSchema.properties.notifier.properties;
    expect(Object.keys(notifier).sort()).toEqual(["channels", "enabled", "postProcessor", "resendAfterS"]);
    expect(Object.keys(notifier.postProcessor?.properties ?? {}).sort()).toEqual(["agentId", "sessionKey"]);
  });
});
