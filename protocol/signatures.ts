import { sign, verify } from "node:crypto";
import { z } from "zod";
import type { SigningKey, TrustedKey } from "./signing-keys.ts";

// What is signed, written once for both sides (docs/PROTOCOL.md, "Signatures"). Each signature covers
// the canonical bytes of a purpose and a fixed set of fields: the purpose keeps a cancel's signature
// from passing as a job's, and the job id inside every payload keeps one job's signature from passing
// for another's.

export const SIGNATURE_ALG = "ed25519";

export const SignatureSchema = z.looseObject({
  alg: z.literal(SIGNATURE_ALG),
  key_id: z.string().min(1).max(100),
  value: z.base64().max(200),
});
export type Signature = z.infer<typeof SignatureSchema>;

/** What a signature vouches for: the submitted job, a cancel request, or the runner's record of a job. */
export type SignedPurpose = "atomizer-job" | "atomizer-cancel" | "atomizer-record" | "atomizer-heartbeat";

/**
 * JSON with object keys sorted and no white space. For the values signed here (strings, integers,
 * booleans, null, arrays, objects) this is RFC 8785 (JCS) output, so another language can rebuild it.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("a signed number must be finite");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  throw new TypeError(`cannot sign a ${typeof value}`);
}

/** The exact bytes a signature covers. */
export function signedBytes(purpose: SignedPurpose, fields: Record<string, unknown>): Buffer {
  return Buffer.from(canonicalJson({ ...fields, purpose }), "utf8");
}

export function signFields(
  purpose: SignedPurpose,
  fields: Record<string, unknown>,
  key: SigningKey,
): Signature {
  const value = sign(null, signedBytes(purpose, fields), key.privateKey).toString("base64");
  return { alg: SIGNATURE_ALG, key_id: key.keyId, value };
}

/** Which check a signature failed, so a refusal can say what to do. */
export type SignatureFailure = "unsigned" | "malformed" | "unknown_key" | "mismatch";

export type SignatureCheck =
  | { ok: true; keyId: string; file: string }
  | { ok: false; check: SignatureFailure; keyId?: string; problem: string };

/** Checks a signature (as found in a file: anything) against the fields it should cover and the trusted keys. */
export function verifyFields(
  purpose: SignedPurpose,
  fields: Record<string, unknown>,
  signature: unknown,
  trusted: readonly TrustedKey[],
): SignatureCheck {
  if (signature === undefined || signature === null)
    return { ok: false, check: "unsigned", problem: "it carries no signature" };
  const parsed = SignatureSchema.safeParse(signature);
  if (!parsed.success)
    return {
      ok: false,
      check: "malformed",
      problem: `its signature is not {alg: "ed25519", key_id, value (base64)}`,
    };
  const { key_id: keyId, value } = parsed.data;
  const key = trusted.find((candidate) => candidate.keyId === keyId);
  if (!key)
    return {
      ok: false,
      check: "unknown_key",
      keyId,
      problem: `it is signed by key ${keyId}, which is not trusted here (trusted: ${trusted.map((k) => k.keyId).join(", ") || "none"})`,
    };
  let good = false;
  try {
    good = verify(null, signedBytes(purpose, fields), key.publicKey, Buffer.from(value, "base64"));
  } catch {
    good = false;
  }
  if (!good)
    return {
      ok: false,
      check: "mismatch",
      keyId,
      problem: `its signature by ${keyId} does not match its contents: something it covers changed after signing, or the signature was copied from another ${purpose.slice("atomizer-".length)}`,
    };
  return { ok: true, keyId, file: key.file };
}
