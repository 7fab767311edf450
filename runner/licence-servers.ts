import { connect } from "node:net";

/** One licence server from SPLM_LICENSE_SERVER: `port@host`. */
export interface LicenceServer {
  host: string;
  port: number;
  /** As written in the setting, for messages. */
  text: string;
}

/** Siemens' licence server port when a `@host` entry gives none. */
export const DEFAULT_SPLM_PORT = 28000;

/**
 * The servers of an SPLM_LICENSE_SERVER value: `port@host` entries separated by `;` (Windows), `,`
 * (a redundant triad) or `:` (Unix style, only between entries that each hold an `@`). Entries that
 * are not `port@host` are returned as problems, not guessed at.
 */
export function parseLicenceServers(setting: string): { servers: LicenceServer[]; problems: string[] } {
  const servers: LicenceServer[] = [];
  const problems: string[] = [];
  const pieces = setting
    .split(/[;,\s]+/)
    .flatMap((piece) => ((piece.match(/@/g)?.length ?? 0) > 1 ? piece.split(":") : [piece]))
    .filter((piece) => piece.length > 0);
  for (const text of pieces) {
    const m = /^(\d*)@([A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\])$/.exec(text);
    const port = m?.[1] ? Number(m[1]) : DEFAULT_SPLM_PORT;
    if (!m?.[2] || port < 1 || port > 65535) {
      problems.push(`${JSON.stringify(text)} is not port@host`);
      continue;
    }
    servers.push({ host: m[2].replace(/^\[|\]$/g, ""), port, text });
  }
  return { servers, problems };
}

/** Whether something accepts a TCP connection on the server's port within `timeoutMs`. */
export function probeServer(server: LicenceServer, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: server.host, port: server.port });
    const done = (answered: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** The first server that answers, or undefined when none does (all are tried at once). */
export async function firstAnswering(
  servers: readonly LicenceServer[],
  timeoutMs: number,
): Promise<LicenceServer | undefined> {
  const answers = await Promise.all(servers.map((server) => probeServer(server, timeoutMs)));
  return servers.find((_, i) => answers[i]);
}

/** The setting that applies: the runner's own, else SPLM_LICENSE_SERVER of its environment. */
export function licenceSetting(configured: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const value = configured ?? env.SPLM_LICENSE_SERVER;
  return value && value.trim().length > 0 ? value.trim() : undefined;
}
