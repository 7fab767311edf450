import type { KV } from "@nats-io/kv";
import { LicencePoolSchema, licenceKey } from "../../protocol/nats-layout.ts";
import { readRecord } from "../../protocol/nats-records.ts";
import type { BridgeContext } from "./bridge-context.ts";
import type { KvFollow } from "./kv-follow.ts";
import { followKv } from "./kv-follow.ts";

const PREFIX = "licence.";

/** Every `licence.<class>` key: listed before dispatch begins, so no NX job is ever taken without its pool known. */
export async function listPools(kv: KV): Promise<Set<string>> {
  const classes = new Set<string>();
  for await (const key of await kv.keys(`${PREFIX}*`)) classes.add(key.slice(PREFIX.length));
  return classes;
}

/**
 * Keeps `pools` current and wakes dispatch whenever a pool changes: a licence returned by any host
 * lets a job this runner had to put back be taken at once, not after its nak delay.
 */
export function followPools(ctx: Pick<BridgeContext, "q" | "log" | "wake">, pools: Set<string>): KvFollow {
  return followKv(
    ctx,
    "licence pools",
    { key: `${PREFIX}*`, include: "updates" },
    (entry) => {
      const licenceClass = entry.key.slice(PREFIX.length);
      if (entry.operation === "PUT") pools.add(licenceClass);
      else pools.delete(licenceClass);
      ctx.wake();
    },
    // A pool created while the watch was down is in no event of it.
    () =>
      void listPools(ctx.q.kv).then(
        (listed) => {
          for (const licenceClass of listed) pools.add(licenceClass);
        },
        () => undefined,
      ),
  );
}

/** The licences this host holds, by job id: what the pools say, whatever this process remembers. */
export async function licencesHeldHere(
  ctx: Pick<BridgeContext, "q" | "host">,
  pools: ReadonlySet<string>,
): Promise<Map<string, string[]>> {
  const byJob = new Map<string, string[]>();
  for (const licenceClass of pools) {
    const pool = await readRecord(ctx.q.kv, licenceKey(licenceClass), LicencePoolSchema);
    for (const [jobId, holder] of Object.entries(pool?.value.held ?? {}))
      if (holder.host === ctx.host) byJob.set(jobId, [...(byJob.get(jobId) ?? []), licenceClass]);
  }
  return byJob;
}
