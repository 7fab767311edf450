// V8 options for the commands that stay up: each gateway starts its own MCP server, so their memory
// is paid eight times. V8 lets its young generation grow to 16 MB per semi-space for throughput; a
// 1 GiB submission's short-lived objects (one promise and result per 1 MiB read and write, the
// stats of 500 files) filled it and left the server ~30 MB larger than idle (bench P4), where a
// 1 MB semi-space keeps it near idle at the same speed. Set on the command line because V8 sizes the
// heap before any script runs (v8.setFlagsFromString is too late for it).

/** The option added, and the name that marks a command line already choosing its own size. */
export const SEMI_SPACE_FLAG = "--max-semi-space-size=1";
const SEMI_SPACE_NAME = "--max-semi-space-size";

/** Set in the relaunched process's environment (and removed by it): a second guard against a loop. */
export const RELAUNCHED_ENV = "ATOMIZER_RELAUNCHED";

/** The commands that run until stopped; one-shot commands keep V8's defaults. */
export const LONG_LIVED_COMMANDS = ["mcp", "runner", "dashboard"];

/** V8 takes `_` for `-` in its option names; NODE_OPTIONS may quote a value. */
function optionName(token) {
  return token
    .replace(/^["']|["']$/g, "")
    .split("=")[0]
    .replaceAll("_", "-");
}

/**
 * The argv to exec this same program again with SEMI_SPACE_FLAG, or undefined to run as started:
 * - a one-shot command, or no process.execve (Windows: the runner there keeps V8's defaults);
 * - a size already chosen, in node's own options or NODE_OPTIONS;
 * - a process that was relaunched already, runs under the permission model (exec would be refused),
 *   has an IPC channel from its parent (its descriptor would not survive the exec), or is being
 *   debugged (--inspect*: the debugger would attach twice).
 * process.execve replaces the process in place: same pid, same stdio, so an MCP client's pipes and a
 * supervisor's pid stay valid.
 */
export function relaunchArgv({ execPath, argv, execArgv, env, canExec, permission = false }) {
  if (!canExec || permission || env[RELAUNCHED_ENV] || env.NODE_CHANNEL_FD !== undefined) return undefined;
  if (!LONG_LIVED_COMMANDS.includes(argv[2] ?? "")) return undefined;
  const options = [...execArgv, ...(env.NODE_OPTIONS ?? "").split(/\s+/).filter(Boolean)].map(optionName);
  if (options.some((name) => name === SEMI_SPACE_NAME || name.startsWith("--inspect"))) return undefined;
  return [execPath, SEMI_SPACE_FLAG, ...execArgv, ...argv.slice(1)];
}
