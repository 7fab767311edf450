import { delimiter } from "node:path";
import { loadAuthConfig } from "../../submitter/config/auth-config.ts";
import type { Identity } from "../../submitter/config/roles.ts";
import { DEFAULT_STDIO_IDENTITY, parseAgent, parseRole } from "../../submitter/config/roles.ts";
import { createServerContext } from "../../submitter/context.ts";
import { isLoopbackHost } from "../../submitter/mcp/http-guard.ts";
import { DEFAULT_SESSION_IDLE_S } from "../../submitter/mcp/http-sessions.ts";
import { serveStdio } from "../../submitter/mcp/serve-stdio.ts";
import { describeKeys } from "../../submitter/signing/submitter-keys.ts";
import {
  intOption,
  keysOrUsage,
  NATS_OPTIONS,
  NATS_USAGE,
  parse,
  queueBackend,
  UsageError,
} from "./cli-support.ts";
import { KEY_OPTIONS, KEY_USAGE } from "./key-options.ts";

const USAGE = `usage: atomizer-jobs mcp (--queue DIR | --nats URL) --allow DIR [--http HOST:PORT --config FILE] [options]

Serves the job queue's MCP tools over stdio (default) or Streamable HTTP (at /mcp).
  --queue DIR          queue root (or ATOMIZER_QUEUE_DIR); create it with \`atomizer-jobs init\`
${NATS_USAGE}
  --allow DIR          submit_job reads study folders only inside DIR (repeatable; or ATOMIZER_ALLOW,
                       folders separated by "${delimiter}"); without one, submit_job refuses every study
  --work DIR           where fetch_results copies jobs (default <queue>/.work)
  --state DIR          this side's state folder, outside the synced tree: the job index (or
                       ATOMIZER_STATE_DIR; default ~/.local/state/atomizer-jobs, %LOCALAPPDATA%\\atomizer-jobs)
  --agent NAME         stdio: the agent (or ATOMIZER_AGENT; default ${DEFAULT_STDIO_IDENTITY.agent})
  --role ROLE          stdio: submitter|observer|processor|admin (or ATOMIZER_ROLE; default ${DEFAULT_STDIO_IDENTITY.role})
  --http HOST:PORT     serve Streamable HTTP instead of stdio (host defaults to 127.0.0.1; PORT 0 picks one)
  --config FILE        HTTP: JSON mapping bearer tokens (as env references) to agents and roles
  --public             HTTP: allow HOST to be an address other machines reach (needs --allowed-host)
  --allowed-host NAME  HTTP: a Host name requests may use besides localhost/127.0.0.1/::1 (repeatable)
  --allowed-origin URL HTTP: a browser Origin that may call the server (repeatable)
  --session-idle S     HTTP: close a session unused for S seconds (default ${DEFAULT_SESSION_IDLE_S})
${KEY_USAGE}
A key file inside the queue folder is refused: the server does not start (exit 2).`;

const OPTIONS = {
  queue: { type: "string" },
  ...NATS_OPTIONS,
  http: { type: "string" },
  config: { type: "string" },
  allow: { type: "string", multiple: true },
  work: { type: "string" },
  state: { type: "string" },
  agent: { type: "string" },
  role: { type: "string" },
  public: { type: "boolean" },
  "allowed-host": { type: "string", multiple: true },
  "allowed-origin": { type: "string", multiple: true },
  "session-idle": { type: "string" },
  ...KEY_OPTIONS,
  help: { type: "boolean", short: "h" },
} as const;

function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65535)
    throw new UsageError(`--http ${value}: expected HOST:PORT or PORT, e.g. 127.0.0.1:8765\n\n${USAGE}`);
  return { host: (match[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port };
}

function stdioIdentity(agent: string | undefined, role: string | undefined): Identity {
  const agentValue = agent ?? process.env.ATOMIZER_AGENT;
  const roleValue = role ?? process.env.ATOMIZER_ROLE;
  return {
    agent: agentValue
      ? parseAgent(agentValue, agent ? "--agent" : "ATOMIZER_AGENT")
      : DEFAULT_STDIO_IDENTITY.agent,
    role: roleValue ? parseRole(roleValue, role ? "--role" : "ATOMIZER_ROLE") : DEFAULT_STDIO_IDENTITY.role,
  };
}

/** --allow, else ATOMIZER_ALLOW; never an implicit folder (a server started in / would expose the host). */
function allowedFolders(values: readonly string[] | undefined): string[] {
  if (values && values.length > 0) return [...values];
  return (process.env.ATOMIZER_ALLOW ?? "").split(delimiter).filter((dir) => dir.length > 0);
}

type Values = ReturnType<typeof parse<typeof OPTIONS>>["values"];

/** Refuses a non-loopback bind without --public, and says loudly what --public exposes. */
function checkExposure(values: Values, host: string): void {
  if (isLoopbackHost(host)) return;
  if (!values.public) {
    throw new UsageError(
      `--http ${host}: binding an address other machines reach needs --public (and --allowed-host with the name clients use)\n\n${USAGE}`,
    );
  }
  process.stderr.write(
    `atomizer-jobs mcp: WARNING: listening on ${host}, reachable from other machines; every request still needs a bearer token, but use TLS in front (a reverse proxy) on any network you do not trust\n`,
  );
}

export async function run(argv: string[]): Promise<number> {
  let values: Values;
  let backend: Awaited<ReturnType<typeof queueBackend>>;
  try {
    ({ values } = parse(argv, OPTIONS, USAGE));
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    backend = await queueBackend(values, USAGE, values.state);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const root = backend.queueRoot;
  try {
    const listen = values.http !== undefined ? parseListen(values.http) : undefined;
    if (listen && !values.config) {
      throw new UsageError(
        `--http needs --config FILE: every HTTP request must carry a bearer token\n\n${USAGE}`,
      );
    }
    if (listen) checkExposure(values, listen.host);
    const sessionIdleS = intOption(values["session-idle"], "session-idle", USAGE);
    const identity = listen ? undefined : stdioIdentity(values.agent, values.role);
    const tokens = listen && values.config ? await loadAuthConfig(values.config, process.env) : undefined;
    const allow = allowedFolders(values.allow);
    const keys = await keysOrUsage(values, root);
    const ctx = await createServerContext({
      ...keys,
      queueRoot: root,
      ...(backend.nats ? { nats: backend.nats } : {}),
      withIndex: true,
      ...(values.work ? { workDir: values.work } : {}),
      ...(values.state ? { stateDir: values.state } : {}),
      allow,
    });
    const studies = `${
      ctx.allowRoots.length > 0
        ? `studies under ${ctx.allowRoots.join(", ")}`
        : "no --allow: submit_job refuses every study"
    }; ${describeKeys(keys)}`;
    const where = ctx.nats ? `NATS ${ctx.nats.url} (mirror ${ctx.queue.root})` : `queue ${ctx.queue.root}`;
    if (listen && tokens) {
      // Loaded only here: a stdio server (one per gateway) need not hold the HTTP transport.
      const { serveHttp } = await import("../../submitter/mcp/serve-http.ts");
      const server = await serveHttp(ctx, {
        ...listen,
        tokens,
        allowedHosts: values["allowed-host"] ?? [],
        allowedOrigins: values["allowed-origin"] ?? [],
        ...(sessionIdleS !== undefined ? { sessionIdleS } : {}),
      });
      process.stderr.write(
        `atomizer-jobs mcp: listening on ${server.url} (${where}, ${tokens.agents.length} agents; ${studies})\n`,
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await server.close();
    } else if (identity) {
      process.stderr.write(
        `atomizer-jobs mcp: serving stdio as ${identity.agent} (role ${identity.role}), ${where}; ${studies}\n`,
      );
      await serveStdio(ctx, identity);
    }
    await ctx.close();
    return 0;
  } catch (error) {
    process.stderr.write(`atomizer-jobs mcp: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}
