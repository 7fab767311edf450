import { readFile } from "node:fs/promises";
import path from "node:path";
import { createKeyedSerial, errnoCode, watchDir } from "../../protocol/index.ts";
import type { Labels } from "../../protocol/nats-layout.ts";
import { runnerKey } from "../../protocol/nats-layout.ts";
import { encodeRecord } from "../../protocol/nats-records.ts";
import { errorMessage } from "../log.ts";
import type { BridgeContext } from "./bridge-context.ts";
import type { RunnerInstance } from "./host-guard.ts";

// The runner's inbox/.runners/<host>.json, carried to `runner.<host>` whenever the runner rewrites it.

/**
 * The heartbeat as carried: with `backend: "nats"` and the runner's labels added (the heartbeat
 * schema keeps unknown fields), except when it is signed, where any added field would break the
 * signature: a signed heartbeat is carried byte for byte.
 */
export function carriedHeartbeat(text: string, labels: Labels): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed) || "signature" in parsed) return text;
  return `${JSON.stringify({ ...parsed, backend: "nats", labels }, null, 2)}\n`;
}

export interface HeartbeatPublisher {
  /** Publishes the file as it is now (the last, stopped heartbeat at shutdown). */
  flush(): Promise<void>;
  close(): void;
}

/** Carries the heartbeat with `instance` beside it, which tells this runner from another under the same --host. */
export function publishHeartbeats(ctx: BridgeContext, instance: RunnerInstance): HeartbeatPublisher {
  const file = ctx.paths.runnerHeartbeat(ctx.host);
  const name = path.basename(file);
  const lane = createKeyedSerial();
  let last: string | undefined;
  let failing = false;
  const publish = () =>
    lane.run("heartbeat", async () => {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        if (errnoCode(error) === "ENOENT") return;
        throw error;
      }
      if (text === last || text.trim() === "") return;
      const record = {
        text: carriedHeartbeat(text, ctx.nats.labels),
        written_at: ctx.now().toISOString(),
        instance,
      };
      await ctx.q.kv.put(runnerKey(ctx.host), encodeRecord(record));
      last = text;
      failing = false;
    });
  const guarded = () =>
    void publish().catch((error: unknown) => {
      if (!failing)
        ctx.log("heartbeat publish failed", undefined, `${errorMessage(error)}; the next beat tries again`);
      failing = true;
    });
  const watch = watchDir(ctx.paths.queue.runnersDir, {
    onName: (changed) => {
      if (changed === name) guarded();
    },
    onReset: guarded,
  });
  guarded();
  return {
    flush: () => publish(),
    close: () => watch.close(),
  };
}
