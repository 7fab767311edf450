// V8 options for the commands that stay up: each gateway starts its own MCP server, so their memory
// is paid eight times. V8 lets its young generation grow to 16 MB per semi-space for throughput; a
// 1 GiB submission's short-lived objects (one promise and result per 1 MiB read and write, the
// stats of 500 files) filled it and left the server ~30 MB larger than idle (bench P4), where a
// 1 MB semi-space keeps it near idle at the same speed. Set on the command line because V8 sizes the
// heap before any script runs (v8.setFlagsFromString is too late for it).

/** The option added, and the name that marks a command line already choosing its own size. */
export const SEMI_SPACE_FLAG = "--max-semi-space-size=1";
const SEMI_SPACE_NAME = "--max-semi-space-size";

/** The commands that run until stopped; one-shot commands keep V8's defaults. */
export const LONG_LIVED_COMMANDS = ["mcp", "runner", "dashboard"];

/**
 * The argv to exec this same program again with SEMI_SPACE_FLAG, or undefined to run as started: a
 * one-shot command, a size already chosen (node's own options or NODE_OPTIONS), or no exec here.
 * process.execve replaces the process in place (same pid, same stdio: an MCP client's pipes and a
 * supervisor's pid stay valid); it exists on POSIX only, so on Windows the service task passes the
 * flag itself (runner/service-task.ts).
 */
export function relaunchArgv({ execPath, argv, execArgv, env, canExec }) {
  if (!canExec) return undefined;
  if (!LONG_LIVED_COMMANDS.includes(argv[2] ?? "")) return undefined;
  const chosen = (option) => option === SEMI_SPACE_NAME || option.startsWith(`${SEMI_SPACE_NAME}=`);
  if (execArgv.some(chosen) || (env.NODE_OPTIONS ?? "").split(/\s+/).some(chosen)) return undefined;
  return [execPath, SEMI_SPACE_FLAG, ...execArgv, ...argv.slice(1)];
}
