// Connecting to the NATS server that carries the queue between workstations. Credentials come from a
// file or the environment only: a URL on a command line lands in shell history, process listings and
// logs, so one carrying a user, password or token is refused.
import { readFile } from "node:fs/promises";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { Kvm } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import { Objm, setSha256Backend } from "@nats-io/obj";
import type { Authenticator, NatsConnection, NodeConnectionOptions } from "@nats-io/transport-node";
import {
  connect,
  credsAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/transport-node";
import { NATS_DISPATCH_STREAM, NATS_KV_BUCKET, NATS_OBJECT_BUCKET } from "./nats-layout.ts";
import { natsSetup } from "./nats-setup.ts";

/** What `--nats URL` and `--nats-creds FILE` say. */
export interface NatsSettings {
  url: string;
  credsFile?: string;
}

/** An open connection with the queue's KV bucket and Object Store bound. */
export interface NatsQueue {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: KV;
  objects: ObjectStore;
  url: string;
  close(): Promise<void>;
}

const CREDENTIALS_HINT =
  "put credentials in a .creds file (--nats-creds FILE or ATOMIZER_NATS_CREDS) or ATOMIZER_NATS_TOKEN / ATOMIZER_NATS_USER + ATOMIZER_NATS_PASSWORD";

const SCHEMES = new Set(["nats:", "tls:"]);

/** Why the settings cannot be used, or undefined when they can. */
export function natsSettingsProblem(s: NatsSettings): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(s.url);
  } catch {
    return `--nats ${JSON.stringify(s.url)} is not a URL: give nats://host:4222 (or tls://host:4222)`;
  }
  if (!SCHEMES.has(parsed.protocol)) {
    return `--nats ${JSON.stringify(s.url)} has scheme ${parsed.protocol.replace(/:$/, "")}: use nats://host:4222 or tls://host:4222`;
  }
  if (parsed.username !== "" || parsed.password !== "") {
    // The URL is not echoed back: it holds the secret.
    return `the --nats URL carries a user, password or token, which would show in process listings and logs: ${CREDENTIALS_HINT}, and give the URL without them`;
  }
  if (parsed.hostname === "") return `--nats ${JSON.stringify(s.url)} names no host: give nats://host:4222`;
  if (s.credsFile !== undefined && s.credsFile.trim() === "") return "--nats-creds was given an empty path";
  return undefined;
}

async function authenticatorFrom(
  s: NatsSettings,
  env: NodeJS.ProcessEnv,
): Promise<Authenticator | undefined> {
  const credsFile = s.credsFile ?? nonEmpty(env.ATOMIZER_NATS_CREDS);
  if (credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = await readFile(credsFile);
    } catch (error) {
      throw new Error(
        `cannot read the NATS credentials file ${credsFile}: ${(error as Error).message}; check the path given to --nats-creds or ATOMIZER_NATS_CREDS`,
      );
    }
    return credsAuthenticator(creds);
  }
  const token = nonEmpty(env.ATOMIZER_NATS_TOKEN);
  if (token !== undefined) return tokenAuthenticator(token);
  const user = nonEmpty(env.ATOMIZER_NATS_USER);
  const password = nonEmpty(env.ATOMIZER_NATS_PASSWORD);
  if (user !== undefined && password !== undefined) return usernamePasswordAuthenticator(user, password);
  if (user !== undefined || password !== undefined) {
    throw new Error("ATOMIZER_NATS_USER and ATOMIZER_NATS_PASSWORD go together: set both, or neither");
  }
  return undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** The connect error as a sentence naming the URL and what to check. */
function connectProblem(url: string, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : "";
  if (/auth/i.test(name) || /authori[sz]ation|authentication/i.test(message)) {
    return new Error(
      `the NATS server at ${url} refused the credentials (${message}): check the .creds file or ATOMIZER_NATS_TOKEN / ATOMIZER_NATS_USER + ATOMIZER_NATS_PASSWORD`,
      { cause: error },
    );
  }
  return new Error(
    `cannot reach the NATS server at ${url} (${message}): check that nats-server runs there with JetStream (-js), the host and port, the firewall, and for tls:// the CA file in ATOMIZER_NATS_CA`,
    { cause: error },
  );
}

/**
 * Connects, runs natsSetup unless `setup: false`, and binds the KV bucket and Object Store. Reconnects
 * forever once connected: a runner outlives a restart of the server.
 */
export async function openNats(
  s: NatsSettings,
  env: NodeJS.ProcessEnv = process.env,
  options: { name?: string; setup?: boolean } = {},
): Promise<NatsQueue> {
  const problem = natsSettingsProblem(s);
  if (problem !== undefined) throw new Error(problem);
  // The client hashes every put itself too, in JavaScript unless told: node:crypto doubled upload
  // throughput (256 MiB: 27 -> 61 MB/s). Process-wide in the client, and the same choice every time.
  setSha256Backend("native");
  const authenticator = await authenticatorFrom(s, env);
  const caFile = nonEmpty(env.ATOMIZER_NATS_CA);
  const connectOptions: NodeConnectionOptions = {
    servers: s.url,
    name: options.name ?? "atomizer-job-queue",
    maxReconnectAttempts: -1,
    ...(authenticator ? { authenticator } : {}),
    ...(caFile !== undefined ? { tls: { caFile } } : {}),
  };
  let nc: NatsConnection;
  try {
    nc = await connect(connectOptions);
  } catch (error) {
    throw connectProblem(s.url, error);
  }
  try {
    if (options.setup ?? true) await natsSetup(nc);
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    if (options.setup === false) await assertSetUp(jsm, s.url);
    const kv = await new Kvm(js).open(NATS_KV_BUCKET);
    const objects = await new Objm(js).open(NATS_OBJECT_BUCKET);
    return {
      nc,
      js,
      jsm,
      kv,
      objects,
      url: s.url,
      close: () => closeConnection(nc),
    };
  } catch (error) {
    await nc.close();
    throw error;
  }
}

/** Drain lets what was published reach the server; with the server away it would wait for it, so not long. */
const DRAIN_MS = 2000;

async function closeConnection(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  const drained = nc.drain().catch(() => undefined);
  await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
  clearTimeout(timer);
  if (!nc.isClosed()) await nc.close();
}

/** With setup: false nothing creates the streams: a missing one is said here, not at first use. */
async function assertSetUp(jsm: JetStreamManager, url: string): Promise<void> {
  for (const stream of [`KV_${NATS_KV_BUCKET}`, `OBJ_${NATS_OBJECT_BUCKET}`, NATS_DISPATCH_STREAM]) {
    try {
      await jsm.streams.info(stream);
    } catch (error) {
      throw new Error(
        `the NATS server at ${url} has no stream ${stream} (${(error as Error).message}): run the setup once (any runner or submitter opened with --nats runs it), then retry`,
        { cause: error },
      );
    }
  }
}
