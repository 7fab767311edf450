// Reading and writing the queue's KV records: JSON validated by the layout's zod schemas, and the two
// compare-and-set writes every record change goes through. A lost race is an ordinary outcome here
// (undefined), never an exception: callers decide what losing means.
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { z } from "zod";
import { ProtocolError } from "./errors.ts";

const encoder = new TextEncoder();

export function encodeRecord(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** True when a KV write lost a compare-and-set: the key's revision was not the one expected. */
export function isCasConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** The record under `key` and its revision; undefined when absent or deleted. Invalid JSON or shape throws naming the key. */
export async function readRecord<T>(
  kv: KV,
  key: string,
  schema: z.ZodType<T>,
): Promise<{ value: T; revision: number } | undefined> {
  const entry = await kv.get(key);
  if (entry === null || entry.operation !== "PUT") return undefined;
  return { value: decodeRecord(key, entry.value, schema), revision: entry.revision };
}

/** Parses a record's bytes (a KV get or watch entry) against its schema. */
export function decodeRecord<T>(key: string, bytes: Uint8Array, schema: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new ProtocolError(
      "invalid_job",
      `the NATS KV record ${key} is not JSON (${(error as Error).message}): it was not written by this queue; delete the key or fix the writer`,
      { key },
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
    throw new ProtocolError(
      "invalid_job",
      `the NATS KV record ${key} does not match its schema${where}: ${issue?.message ?? "invalid"}; a different version of atomizer-job-queue may have written it`,
      { key },
    );
  }
  return parsed.data;
}

/** kv.create: the new revision, or undefined when the key already holds a value. */
export async function createRecord(kv: KV, key: string, value: unknown): Promise<number | undefined> {
  try {
    return await kv.create(key, encodeRecord(value));
  } catch (error) {
    if (isCasConflict(error)) return undefined;
    throw error;
  }
}

/** kv.update: the new revision, or undefined when the key is no longer at `revision`. */
export async function updateRecord(
  kv: KV,
  key: string,
  value: unknown,
  revision: number,
): Promise<number | undefined> {
  try {
    return await kv.update(key, encodeRecord(value), revision);
  } catch (error) {
    if (isCasConflict(error)) return undefined;
    throw error;
  }
}
