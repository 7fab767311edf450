// Creates what the queue needs on a NATS server, once: every run after the first keeps what is there,
// so each runner and submitter may run it at start without coordinating. Settings a later run names
// explicitly (an AckWait, a licence limit) are brought to that value; the rest is left alone.
import type { JetStreamManager } from "@nats-io/jetstream";
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import type { LicencePool } from "./nats-layout.ts";
import {
  LabelNameSchema,
  LicencePoolSchema,
  licenceKey,
  NATS_DISPATCH_CONSUMER,
  NATS_DISPATCH_STREAM,
  NATS_DISPATCH_SUBJECT,
  NATS_KV_BUCKET,
  NATS_OBJECT_BUCKET,
} from "./nats-layout.ts";
import { createRecord, readRecord, updateRecord } from "./nats-records.ts";

export const DEFAULT_ACK_WAIT_S = 30;
/** Nats-Msg-Id dedupe: a submitter retrying a dispatch publish within this window sends it once. */
export const DISPATCH_DUPLICATE_WINDOW_S = 120;

export interface NatsSetupOptions {
  /** AckWait of the `runners` consumer; given, an existing consumer is brought to it. */
  ackWaitS?: number;
  /** Licence pools `licence.<class>` and their limits; given, an existing pool's limit is brought to it. */
  licences?: Record<string, number>;
  replicas?: number;
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamNotFound || error.code === JetStreamApiCodes.ConsumerNotFound)
  );
}

async function streamExists(jsm: JetStreamManager, name: string): Promise<boolean> {
  try {
    await jsm.streams.info(name);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** Creates the KV bucket, Object Store, dispatch stream, `runners` consumer and licence pools; lines say what it did. */
export async function natsSetup(nc: NatsConnection, opts: NatsSetupOptions = {}): Promise<string[]> {
  const replicas = opts.replicas ?? 1;
  const lines: string[] = [];
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (error) {
    throw new Error(
      `JetStream is not available on the NATS server at ${nc.getServer()} (${(error as Error).message}): start nats-server with -js (JetStream enabled) for this account`,
      { cause: error },
    );
  }
  const js = jetstream(nc);

  const kvStream = `KV_${NATS_KV_BUCKET}`;
  const kvExisted = await streamExists(jsm, kvStream);
  const kv = await new Kvm(js).create(NATS_KV_BUCKET, { history: 1, storage: StorageType.File, replicas });
  lines.push(`KV bucket ${NATS_KV_BUCKET}: ${kvExisted ? "kept" : "created"}`);

  const objStream = `OBJ_${NATS_OBJECT_BUCKET}`;
  const objExisted = await streamExists(jsm, objStream);
  await new Objm(js).create(NATS_OBJECT_BUCKET, { storage: StorageType.File, replicas });
  lines.push(`object store ${NATS_OBJECT_BUCKET}: ${objExisted ? "kept" : "created"}`);

  if (await streamExists(jsm, NATS_DISPATCH_STREAM)) {
    lines.push(`stream ${NATS_DISPATCH_STREAM}: kept`);
  } else {
    await jsm.streams.add({
      name: NATS_DISPATCH_STREAM,
      subjects: [NATS_DISPATCH_SUBJECT],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: replicas,
      duplicate_window: nanos(DISPATCH_DUPLICATE_WINDOW_S * 1000),
    });
    lines.push(
      `stream ${NATS_DISPATCH_STREAM}: created (work queue, duplicate window ${DISPATCH_DUPLICATE_WINDOW_S} s)`,
    );
  }

  lines.push(await ensureConsumer(jsm, opts.ackWaitS));
  for (const [licenceClass, limit] of Object.entries(opts.licences ?? {})) {
    lines.push(await ensureLicencePool(kv, licenceClass, limit));
  }
  return lines;
}

async function ensureConsumer(jsm: JetStreamManager, ackWaitS: number | undefined): Promise<string> {
  if (ackWaitS !== undefined && !(Number.isFinite(ackWaitS) && ackWaitS > 0)) {
    throw new Error(`AckWait ${ackWaitS} s is not a positive number of seconds`);
  }
  const wanted = nanos((ackWaitS ?? DEFAULT_ACK_WAIT_S) * 1000);
  const name = `consumer ${NATS_DISPATCH_STREAM}/${NATS_DISPATCH_CONSUMER}`;
  let current: number | undefined;
  try {
    current = (await jsm.consumers.info(NATS_DISPATCH_STREAM, NATS_DISPATCH_CONSUMER)).config.ack_wait;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (current === undefined) {
    await jsm.consumers.add(NATS_DISPATCH_STREAM, {
      durable_name: NATS_DISPATCH_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: wanted,
    });
    return `${name}: created (pull, explicit ack, AckWait ${wanted / 1e9} s)`;
  }
  if (ackWaitS === undefined || current === wanted) return `${name}: kept (AckWait ${current / 1e9} s)`;
  await jsm.consumers.update(NATS_DISPATCH_STREAM, NATS_DISPATCH_CONSUMER, { ack_wait: wanted });
  return `${name}: AckWait ${current / 1e9} s -> ${wanted / 1e9} s`;
}

/** Creates `licence.<class>` or brings its limit to `limit` by CAS, keeping who holds one. */
async function ensureLicencePool(kv: KV, licenceClass: string, limit: number): Promise<string> {
  const parsedClass = LabelNameSchema.safeParse(licenceClass);
  if (!parsedClass.success)
    throw new Error(`licence class ${JSON.stringify(licenceClass)}: ${parsedClass.error.issues[0]?.message}`);
  if (!Number.isInteger(limit) || limit < 0)
    throw new Error(`licence ${licenceClass}=${limit}: the limit is a whole number of licences, 0 or more`);
  const key = licenceKey(licenceClass);
  for (;;) {
    const current = await readRecord(kv, key, LicencePoolSchema);
    if (current === undefined) {
      const pool: LicencePool = { limit, held: {} };
      if ((await createRecord(kv, key, pool)) !== undefined)
        return `licence pool ${licenceClass}: created, limit ${limit}`;
      continue; // another process created it first: look again
    }
    if (current.value.limit === limit) return `licence pool ${licenceClass}: kept, limit ${limit}`;
    const next: LicencePool = { limit, held: current.value.held };
    if ((await updateRecord(kv, key, next, current.revision)) !== undefined) {
      const held = Object.keys(next.held).length;
      return `licence pool ${licenceClass}: limit ${current.value.limit} -> ${limit} (${held} held, kept)`;
    }
  }
}
