import { resolve } from "node:path";
import { checkQueueLayout } from "../../protocol/index.ts";
import type { NatsSettings } from "../../protocol/nats-connect.ts";
import type { JobCatalog } from "../../submitter/catalog/job-catalog.ts";
import { openCatalog } from "../../submitter/catalog/open-catalog.ts";
import { loadAuthConfig } from "../../submitter/config/auth-config.ts";
import { serveDashboard } from "../../submitter/dashboard/dashboard-server.ts";
import { isLoopbackHost } from "../../submitter/mcp/http-guard.ts";
import { intOption, NATS_OPTIONS, NATS_USAGE, parse, queueBackend, UsageError } from "./cli-support.ts";

const USAGE = `usage: atomizer-jobs dashboard --queue DIR | --nats URL [--port N] [--host HOST --public --config FILE] [options]

Serves a read-only page of the queue (jobs, trials, best values, runners, licence waits) that
updates live; open the printed address in a browser. Stop it with Ctrl+C.
  --queue DIR          queue root (or ATOMIZER_QUEUE_DIR)
${NATS_USAGE}
  --port N             port to listen on (default 8766; 0 picks a free one)
  --host HOST          address to bind (default 127.0.0.1: this machine only)
  --public             allow HOST to be an address other machines reach (needs --config)
  --config FILE        the MCP server's token file: every request then needs a token
                       (open http://HOST:PORT/?token=TOKEN once in the browser)
  --allowed-host NAME  a Host name requests may use besides localhost/127.0.0.1/::1 (repeatable)
  --allowed-origin URL a browser Origin that may read the page (repeatable)`;

const OPTIONS = {
  queue: { type: "string" },
  ...NATS_OPTIONS,
  port: { type: "string" },
  host: { type: "string" },
  public: { type: "boolean" },
  config: { type: "string" },
  "allowed-host": { type: "string", multiple: true },
  "allowed-origin": { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
} as const;

const DEFAULT_PORT = 8766;

export async function run(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parse<typeof OPTIONS>>["values"];
  let root: string;
  let nats: NatsSettings | undefined;
  let port: number;
  try {
    ({ values } = parse(argv, OPTIONS, USAGE));
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const backend = await queueBackend(values, USAGE);
    root = resolve(backend.queueRoot);
    nats = backend.nats;
    port = intOption(values.port, "port", USAGE) ?? DEFAULT_PORT;
    if (port > 65535) throw new UsageError(`--port ${port}: at most 65535\n\n${USAGE}`);
    const host = values.host ?? "127.0.0.1";
    // The HTTP MCP server's rules: another machine reaches it only when asked for, and only with tokens.
    if (!isLoopbackHost(host) && !(values.public && values.config)) {
      throw new UsageError(
        `--host ${host}: an address other machines reach needs --public and --config FILE (tokens)\n\n${USAGE}`,
      );
    }
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const host = values.host ?? "127.0.0.1";
  try {
    const tokens = values.config ? await loadAuthConfig(values.config, process.env) : undefined;
    const { catalog, shown } = await openDashboardCatalog(root, nats);
    const server = await serveDashboard({
      queueRoot: shown,
      catalog,
      host,
      port,
      ...(tokens ? { tokens } : {}),
      allowedHosts: values["allowed-host"] ?? [],
      allowedOrigins: values["allowed-origin"] ?? [],
    });
    if (!isLoopbackHost(host)) {
      process.stderr.write(
        `atomizer-jobs dashboard: WARNING: listening on ${host}, reachable from other machines; every request needs a token, but use TLS in front on any network you do not trust\n`,
      );
    }
    process.stdout.write(
      `atomizer-jobs dashboard: ${server.url} (queue ${shown}${tokens ? "; token required" : ""})\n`,
    );
    await new Promise<void>((done) => {
      process.once("SIGINT", done);
      process.once("SIGTERM", done);
    });
    await server.close();
    await catalog.close();
    return 0;
  } catch (error) {
    process.stderr.write(`atomizer-jobs dashboard: ${(error as Error).message}\n`);
    return 1;
  }
}

/** The folder queue's watched catalog, or NATS through its local mirror (the page names the server). */
async function openDashboardCatalog(
  root: string,
  nats: NatsSettings | undefined,
): Promise<{ catalog: JobCatalog; shown: string }> {
  if (nats === undefined) {
    const problems = await checkQueueLayout(root);
    if (problems.length > 0) throw new Error(`queue root is not usable:\n  ${problems.join("\n  ")}`);
    return { catalog: await openCatalog({ kind: "watched", queueRoot: root }), shown: root };
  }
  // Loaded only here: the folder queue's dashboard never loads the NATS client.
  const { openNatsCatalog } = await import("../../submitter/catalog/open-nats-catalog.ts");
  const { displayNatsUrl } = await import("../../submitter/catalog/nats-mirror-location.ts");
  const { catalog } = await openNatsCatalog({ kind: "watched", nats });
  return { catalog, shown: `NATS ${displayNatsUrl(nats.url)}` };
}
