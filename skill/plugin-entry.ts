/**
 * The OpenClaw plugin entry. The skill (SKILL.md) and the MCP server are declared in
 * openclaw.plugin.json, so OpenClaw reads them without running code; `openclaw plugins install`
 * still requires an entry module, and this is where gateway-side code registers.
 */
export default {
  id: "atomizer-job-queue",
  name: "Atomizer job queue",
  description: "SYS_19 job queue: submit, watch, fetch and archive NX/Optuna studies over MCP",
  register(): void {},
};
