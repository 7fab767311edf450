import type { OpenClawPluginApi } from "./notifier/openclaw-service.ts";
import { notifierService } from "./notifier/openclaw-service.ts";

/**
 * The OpenClaw plugin entry. The skill (SKILL.md) and the MCP server are declared in
 * openclaw.plugin.json, so OpenClaw reads them without running code; the gateway-side notifier
 * (plugin/notifier/) registers here as a background service.
 */
export default {
  id: "atomizer-job-queue",
  name: "Atomizer job queue",
  description: "SYS_19 job queue: submit, watch, fetch and archive NX/Optuna studies over MCP",
  register(api: OpenClawPluginApi): void {
    // OpenClaw also calls register for discovery and CLI metadata; only a full load runs services.
    if (api.registrationMode !== "full") return;
    api.registerService(notifierService(api, process.env));
  },
};
