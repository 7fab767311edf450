import type { KeyObject } from "node:crypto";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { lstat, mkdir, readFile, realpath, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathExists } from "./atomic-fs.ts";
import { errnoCode, ProtocolError } from "./errors.ts";
import { MAX_TRUSTED_KEYS } from "./limits.ts";
import { isInsideFolder } from "./safe-open.ts";

// Ed25519 keys as PEM files (PKCS#8 private, SPKI public): what `openssl pkey` and Node's crypto read
// and write, so an engineer can inspect or make them with standard tools. Node's built-in crypto, no
// dependency: the issue's rule, and Ed25519 in OpenSSL is what every platform Node runs on has.

/** A private key that signs, with the id of its public half. */
export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  file: string;
}

/** A public key a reader trusts, and the file it came from (named in errors and in doctor). */
export interface TrustedKey {
  keyId: string;
  publicKey: KeyObject;
  file: string;
}

/** A key file is at most this big: a PEM Ed25519 key is about 120 bytes. */
const MAX_KEY_FILE_BYTES = 16 * 1024;

/**
 * `ed25519:` + the first 16 hex digits of the sha256 of the public key's SPKI DER: short enough for a
 * log line, and only a name: verification always uses the trusted key itself, never the id alone.
 */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  return `ed25519:${createHash("sha256").update(der).digest("hex").slice(0, 16)}`;
}

async function readKeyText(file: string, what: string): Promise<string> {
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await lstat(file);
  } catch (error) {
    const code = errnoCode(error);
    throw new ProtocolError(
      "not_found",
      `${what} ${file} ${code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? (error as Error).message})`}; make one with \`atomizer-jobs keygen --out DIR\``,
    );
  }
  if (!info.isFile() || info.size > MAX_KEY_FILE_BYTES)
    throw new ProtocolError(
      "unsafe_file",
      `${what} ${file} is not a key file (a regular file of a few hundred bytes)`,
    );
  return readFile(file, "utf8");
}

function requireEd25519(key: KeyObject, file: string, what: string): void {
  if (key.asymmetricKeyType !== "ed25519")
    throw new ProtocolError(
      "invalid_job",
      `${what} ${file} is a ${key.asymmetricKeyType ?? "symmetric"} key; the queue signs with Ed25519 keys made by \`atomizer-jobs keygen\``,
    );
}

/** Loads a PEM private key. A private key whose permissions let others read it is refused on POSIX, as ssh does. */
export async function loadSigningKey(
  file: string,
  platform: NodeJS.Platform = process.platform,
): Promise<SigningKey> {
  const text = await readKeyText(file, "signing key");
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(text);
  } catch {
    throw new ProtocolError(
      "invalid_job",
      `signing key ${file} is not a PEM private key; give the .key file \`atomizer-jobs keygen\` wrote (not the .pub)`,
    );
  }
  requireEd25519(privateKey, file, "signing key");
  if (platform !== "win32") {
    const { mode } = await lstat(file);
    if ((mode & 0o077) !== 0)
      throw new ProtocolError(
        "unsafe_file",
        `signing key ${file} can be read by other users (mode ${(mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``,
      );
  }
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey, file };
}

/** Loads the public keys a reader trusts; several, so a key can be rotated without a gap. */
export async function loadTrustedKeys(files: readonly string[]): Promise<TrustedKey[]> {
  if (files.length > MAX_TRUSTED_KEYS)
    throw new ProtocolError(
      "invalid_job",
      `${files.length} trusted keys given; at most ${MAX_TRUSTED_KEYS} (MAX_TRUSTED_KEYS): trust the current and the next key, drop retired ones`,
    );
  const keys: TrustedKey[] = [];
  for (const file of files) {
    const text = await readKeyText(file, "trusted key");
    if (text.includes("PRIVATE KEY"))
      throw new ProtocolError(
        "unsafe_file",
        `trusted key ${file} holds a private key; give the .pub file, and keep the .key only where jobs are signed`,
      );
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(text);
    } catch {
      throw new ProtocolError(
        "invalid_job",
        `trusted key ${file} is not a PEM public key (the .pub file of \`atomizer-jobs keygen\`)`,
      );
    }
    requireEd25519(publicKey, file, "trusted key");
    const keyId = keyIdOf(publicKey);
    if (!keys.some((key) => key.keyId === keyId)) keys.push({ keyId, publicKey, file });
  }
  return keys;
}

async function resolved(target: string): Promise<string> {
  try {
    return await realpath(target);
  } catch {
    return path.resolve(target);
  }
}

/**
 * Refuses a key file inside a synced folder: whoever can write the queue could read a private key
 * there, or replace a trusted public key with their own. Links are resolved on both sides.
 */
export async function checkKeyOutsideQueue(
  file: string,
  syncedRoots: readonly string[],
  what: string,
): Promise<void> {
  const real = await resolved(file);
  for (const root of syncedRoots) {
    const realRoot = await resolved(root);
    const inside =
      process.platform === "win32"
        ? isInsideFolder(realRoot.toLowerCase(), real.toLowerCase())
        : isInsideFolder(realRoot, real);
    if (inside)
      throw new ProtocolError(
        "unsafe_file",
        `${what} ${file} is inside the synced queue folder ${root}; move it to a folder Syncthing does not share (docs/deployment.md, "Signed jobs")`,
      );
  }
}

export interface GeneratedKeyPair {
  keyId: string;
  privatePath: string;
  publicPath: string;
}

/**
 * The nearest folder at or above `dir` that Syncthing shares (it holds `.stfolder`) or that is a queue
 * root (it holds outbox/ and inbox/): a key written there would be synced before anything refused it.
 */
export async function syncedFolderAbove(dir: string): Promise<string | undefined> {
  let current = path.resolve(dir);
  for (;;) {
    if (await pathExists(path.join(current, ".stfolder"))) return current;
    if ((await pathExists(path.join(current, "outbox"))) && (await pathExists(path.join(current, "inbox"))))
      return current;
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

/**
 * Writes `<name>.key` (mode 600) and `<name>.pub` into `dir`; never overwrites an existing key, and
 * never writes inside a synced folder or a queue.
 */
export async function generateKeyPairFiles(dir: string, name: string): Promise<GeneratedKeyPair> {
  const synced = await syncedFolderAbove(dir);
  if (synced)
    throw new ProtocolError(
      "unsafe_file",
      `${dir} is inside ${synced}, a synced folder or a queue: a private key there would be copied to every device that shares it; choose a folder outside it (docs/deployment.md, "Signed jobs")`,
    );
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(name))
    throw new ProtocolError(
      "invalid_name",
      `key name ${JSON.stringify(name)} must be letters, digits, ".", "_" or "-"`,
    );
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privatePath = path.join(dir, `${name}.key`);
  const publicPath = path.join(dir, `${name}.pub`);
  try {
    // Both names checked first, so a half-written pair is never left behind.
    for (const target of [privatePath, publicPath])
      await lstat(target).then(
        () => Promise.reject(Object.assign(new Error(target), { code: "EEXIST" })),
        () => undefined,
      );
    await writeFile(privatePath, privateKey.export({ type: "pkcs8", format: "pem" }), {
      mode: 0o600,
      flag: "wx",
    });
    await writeFile(publicPath, publicKey.export({ type: "spki", format: "pem" }), {
      mode: 0o644,
      flag: "wx",
    });
  } catch (error) {
    if (errnoCode(error) === "EEXIST")
      throw new ProtocolError(
        "conflict",
        `a key named ${name} already exists in ${dir}; keys are never overwritten: choose another --name (to rotate) or another --out`,
      );
    throw error;
  }
  return { keyId: keyIdOf(publicKey), privatePath, publicPath };
}
