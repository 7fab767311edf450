import type { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Identity } from "../config/roles.ts";

/** Default idle time after which a session is closed and its server released. */
export const DEFAULT_SESSION_IDLE_S = 30 * 60;

export interface Session {
  identity: Identity;
  transport: StreamableHTTPServerTransport;
  /** Closes the session's McpServer and transport and drops its subscriptions. */
  close: () => Promise<void>;
  lastSeen: number;
  /** Requests (and SSE streams) still open: a session listening on a stream is not idle. */
  open: number;
}

/**
 * The HTTP server's sessions. A session nobody used (no request, no open stream) for `idleMs` is
 * closed and forgotten, so abandoned sessions (clients that never send DELETE) cannot pile up; its
 * client gets 404 and initializes anew, as the spec provides.
 */
export class SessionTable {
  readonly #sessions = new Map<string, Session>();
  readonly #idleMs: number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(idleMs: number) {
    this.#idleMs = idleMs;
    this.#sweeper = setInterval(() => void this.sweep(), Math.max(250, Math.min(idleMs / 4, 60_000)));
    this.#sweeper.unref();
  }

  get size(): number {
    return this.#sessions.size;
  }

  add(id: string, session: Omit<Session, "lastSeen" | "open">): void {
    this.#sessions.set(id, { ...session, lastSeen: Date.now(), open: 0 });
  }

  get(id: string): Session | undefined {
    return this.#sessions.get(id);
  }

  /** Marks a request on the session as started; the returned function marks it finished. */
  use(session: Session): () => void {
    session.open++;
    session.lastSeen = Date.now();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      session.open--;
      session.lastSeen = Date.now();
    };
  }

  forget(id: string): void {
    this.#sessions.delete(id);
  }

  /** Closes every session idle for longer than the limit. */
  async sweep(now = Date.now()): Promise<void> {
    for (const [id, session] of this.#sessions) {
      if (session.open > 0 || now - session.lastSeen <= this.#idleMs) continue;
      this.#sessions.delete(id);
      await session.close().catch(() => undefined);
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const session of all) await session.close().catch(() => undefined);
  }
}
