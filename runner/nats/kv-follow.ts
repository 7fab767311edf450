import type { KvWatchEntry, KvWatchOptions } from "@nats-io/kv";
import { errorMessage } from "../log.ts";
import type { BridgeContext } from "./bridge-context.ts";

export interface KvFollow {
  /** Resolves once the first watch is set up (its initial values, if any, are on their way). */
  ready: Promise<void>;
  stop(): void;
}

const REARM_MS = 1000;

/**
 * A KV watch that is set up again when it ends (the connection closed for good, the server lost the
 * consumer); `onRearm` runs after each re-arm, for what a gap may have hidden. Entries are handed over
 * in order; the handler queues its own work.
 */
export function followKv(
  ctx: Pick<BridgeContext, "q" | "log">,
  what: string,
  options: KvWatchOptions,
  onEntry: (entry: KvWatchEntry) => void,
  onRearm?: () => void,
): KvFollow {
  let stopped = false;
  let iterator: { stop(): void } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const arm = async (again: boolean): Promise<void> => {
    if (stopped) return;
    try {
      const watch = await ctx.q.kv.watch(options);
      iterator = watch;
      markReady();
      if (again) onRearm?.();
      for await (const entry of watch) {
        if (stopped) break;
        onEntry(entry);
      }
    } catch (error) {
      if (!stopped) ctx.log("watch failed", undefined, `${what}: ${errorMessage(error)}; set up again`);
    }
    markReady();
    if (!stopped) timer = setTimeout(() => void arm(true), REARM_MS);
  };
  void arm(false);
  return {
    ready,
    stop() {
      stopped = true;
      markReady();
      clearTimeout(timer);
      iterator?.stop();
    },
  };
}
