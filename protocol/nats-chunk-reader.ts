// Downloading one object: our own reader of its chunk subject, a bounded batch at a time. The
// client's ObjectStore.get() pushes every chunk into an unbounded stream as fast as the server sends
// (a 1 GiB object took 1.23 GB resident); here the next batch is asked for only after the last one
// is on disk, so memory stays at one batch whatever the object's size.
import { createHash } from "node:crypto";
import { mkdir, open, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { ObjectInfo } from "@nats-io/obj";
import { ProtocolError } from "./errors.ts";
import type { NatsQueue } from "./nats-connect.ts";
import { NATS_OBJECT_BUCKET } from "./nats-layout.ts";
import { writeAll } from "./write-all.ts";

/** Chunks asked for at a time: 32 x 128 KiB = 4 MiB in flight, enough to keep a LAN link busy. */
export const DOWNLOAD_BATCH_CHUNKS = 32;
/** A batch that brings nothing for this long means the server stopped sending. */
const BATCH_EXPIRES_MS = 30_000;

const DIGEST_PREFIX = "SHA-256=";

/** NATS's "SHA-256=<base64url>" as the hex the FileIndex keeps; undefined for another digest type. */
export function digestToHex(digest: string): string | undefined {
  if (!digest.startsWith(DIGEST_PREFIX)) return undefined;
  const bytes = Buffer.from(digest.slice(DIGEST_PREFIX.length), "base64url");
  return bytes.length === 32 ? bytes.toString("hex") : undefined;
}

/** The object's current info; a missing, deleted or linked object is a ProtocolError naming it. */
export async function objectInfo(q: NatsQueue, object: string): Promise<ObjectInfo> {
  const info = await q.objects.info(object);
  if (info === null || info.deleted) {
    throw new ProtocolError(
      "not_found",
      `object ${object} is not in the NATS object store ${NATS_OBJECT_BUCKET}: it was deleted or never uploaded; upload it again`,
      { object },
    );
  }
  if (info.options?.link) {
    throw new ProtocolError(
      "invalid_path",
      `object ${object} is a link to another object; this queue writes no links: delete it and upload the file again`,
      { object },
    );
  }
  return info;
}

/**
 * Writes the object to `target` (created exclusively: an existing file or link there is an error),
 * hashing the bytes as they are written. A size or sha256 other than `expect` removes the target and
 * throws, as does any failure on the way: the target either holds the verified bytes or is absent.
 */
export async function downloadObject(
  q: NatsQueue,
  object: string,
  target: string,
  expect: { size: number; sha256: string },
): Promise<void> {
  const info = await objectInfo(q, object);
  // Refused before anything is written when the store itself says the object differs.
  const storedSha = digestToHex(info.digest);
  if (info.size !== expect.size || (storedSha !== undefined && storedSha !== expect.sha256)) {
    throw mismatch(
      object,
      target,
      expect,
      { size: info.size, sha256: storedSha ?? info.digest },
      "the object store holds",
    );
  }
  await mkdir(dirname(target), { recursive: true });
  const handle = await open(target, "wx");
  let complete = false;
  try {
    const got = await readChunks(q, info, async (data) => writeAll(handle, data, target));
    if (got.size !== expect.size || got.sha256 !== expect.sha256) {
      throw mismatch(object, target, expect, got, "the bytes received have");
    }
    await handle.sync();
    complete = true;
  } finally {
    await handle.close();
    if (!complete) await rm(target, { force: true });
  }
}

function mismatch(
  object: string,
  target: string,
  expect: { size: number; sha256: string },
  got: { size: number; sha256: string },
  where: string,
): ProtocolError {
  return new ProtocolError(
    "conflict",
    `object ${object} does not match its file index: expected ${expect.size} bytes sha256 ${expect.sha256}, ${where} ${got.size} bytes sha256 ${got.sha256}; ${target} was not kept. The file was replaced or damaged after it was indexed: upload it again`,
    { object, target, expect, got },
  );
}

/** Feeds every chunk of the object to `sink` in order, one bounded batch at a time; returns size and sha256 of what it fed. */
export async function readChunks(
  q: NatsQueue,
  info: ObjectInfo,
  sink: (data: Uint8Array) => Promise<void>,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  if (info.chunks === 0) return { size, sha256: hash.digest("hex") };
  // An ordered consumer: ephemeral, in stream order, recreated by the client if a message goes missing.
  const consumer = await q.js.consumers.get(`OBJ_${info.bucket}`, {
    filter_subjects: `$O.${info.bucket}.C.${info.nuid}`,
  });
  try {
    let chunks = 0;
    while (chunks < info.chunks) {
      const batch = await consumer.fetch({
        max_messages: Math.min(DOWNLOAD_BATCH_CHUNKS, info.chunks - chunks),
        expires: BATCH_EXPIRES_MS,
      });
      let inBatch = 0;
      for await (const message of batch) {
        const data = message.data;
        hash.update(data);
        size += data.length;
        await sink(data);
        inBatch++;
        chunks++;
      }
      if (inBatch === 0) {
        throw new Error(
          `object ${info.name}: the NATS server sent no chunk for ${BATCH_EXPIRES_MS / 1000} s after ${chunks} of ${info.chunks}; check the server and retry`,
        );
      }
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return { size, sha256: hash.digest("hex") };
}
