import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

/** The names a loopback server answers to; anything else in Host is a DNS-rebinding attempt. */
export const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1"] as const;

/** Whether `host` (an address or name to bind) reaches only this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  return bare === "::1";
}

export interface HostPolicy {
  /** Host names (no port) requests may name in Host; lower case. */
  hosts: ReadonlySet<string>;
  /** Exact origins a browser page may call from, beyond http(s)://<an allowed host>[:port]. */
  origins: ReadonlySet<string>;
}

/**
 * The allowlist: the loopback names, the bound host unless it is a wildcard (0.0.0.0, ::), and what
 * the operator added (--allowed-host, --allowed-origin). Ports are not compared: a rebinding attack
 * changes the name, and a proxy in front may use another port.
 */
export function hostPolicy(
  boundHost: string,
  extraHosts: readonly string[],
  origins: readonly string[],
): HostPolicy {
  const hosts = new Set<string>(LOOPBACK_HOSTS);
  const bound = boundHost.replace(/^\[|\]$/g, "").toLowerCase();
  if (bound !== "0.0.0.0" && bound !== "::" && bound !== "") hosts.add(bound);
  for (const host of extraHosts) hosts.add(host.replace(/^\[|\]$/g, "").toLowerCase());
  return { hosts, origins: new Set(origins.map((origin) => origin.replace(/\/+$/, "").toLowerCase())) };
}

function hostnameOf(value: string): string | undefined {
  try {
    return new URL(`http://${value}`).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  } catch {
    return undefined;
  }
}

/** Why a request's Host or Origin is refused (403), or undefined when both are allowed. */
export function hostProblem(req: IncomingMessage, policy: HostPolicy): string | undefined {
  const host = req.headers.host;
  const hostname = host ? hostnameOf(host) : undefined;
  if (!hostname || !policy.hosts.has(hostname)) {
    return `Host ${JSON.stringify((host ?? "").slice(0, 100))} is not one this server answers to; start it with --allowed-host NAME to add one`;
  }
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(origin);
  } catch {
    parsed = undefined;
  }
  const originHost = parsed?.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (
    parsed &&
    (policy.origins.has(parsed.origin.toLowerCase()) || (originHost && policy.hosts.has(originHost)))
  ) {
    return undefined;
  }
  return `Origin ${JSON.stringify(origin.slice(0, 100))} may not call this server; start it with --allowed-origin ORIGIN to allow one`;
}
