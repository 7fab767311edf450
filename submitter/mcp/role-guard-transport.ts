import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage, MessageExtraInfo } from "@modelcontextprotocol/sdk/types.js";
import type { Identity, ToolName } from "../config/roles.ts";
import { ROLE_TOOLS, TOOL_NAMES } from "../config/roles.ts";

/**
 * Answers a call to a tool the caller's role may not use with a clear refusal, instead of the SDK's
 * bare "tool not found" (the tool is not registered for this role at all, so it cannot run anyway).
 */
export class RoleGuardTransport implements Transport {
  readonly #inner: Transport;
  readonly #identity: Identity;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined;

  constructor(inner: Transport, identity: Identity) {
    this.#inner = inner;
    this.#identity = identity;
    inner.onclose = () => this.onclose?.();
    inner.onerror = (error) => this.onerror?.(error);
    inner.onmessage = (message, extra) => {
      const refusal = this.#refusal(message);
      if (refusal)
        void this.#inner.send(refusal, { relatedRequestId: (message as { id: string | number }).id });
      else this.onmessage?.(message, extra);
    };
  }

  get sessionId(): string | undefined {
    return this.#inner.sessionId;
  }

  setProtocolVersion(version: string): void {
    this.#inner.setProtocolVersion?.(version);
  }

  #refusal(message: JSONRPCMessage): JSONRPCMessage | undefined {
    if (!("method" in message) || message.method !== "tools/call" || !("id" in message)) return undefined;
    const name = (message.params as { name?: unknown } | undefined)?.name;
    if (typeof name !== "string" || !(TOOL_NAMES as readonly string[]).includes(name)) return undefined;
    const allowed = ROLE_TOOLS[this.#identity.role];
    if (allowed.includes(name as ToolName)) return undefined;
    return {
      jsonrpc: "2.0",
      id: message.id,
      result: {
        content: [
          {
            type: "text",
            text:
              `error (forbidden): ${this.#identity.agent} has role ${this.#identity.role}, which may not use ${name}; ` +
              `it may use ${allowed.join(", ")}\nnext: ask an operator for a token with the right role`,
          },
        ],
        isError: true,
      },
    };
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.#inner.send(message, options);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
