import { realpath, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { KeyedSerial, QueuePaths, SigningKey, TrustedKey } from "../protocol/index.ts";
import { checkQueueLayout, createKeyedSerial, queuePaths } from "../protocol/index.ts";
import type { NatsSettings } from "../protocol/nats-connect.ts";
import type { CatalogKind, JobCatalog } from "./catalog/job-catalog.ts";
import { displayNatsUrl } from "./catalog/nats-mirror-location.ts";
import { openCatalog } from "./catalog/open-catalog.ts";
import { cleanStaleStaging } from "./jobs/staging-dirs.ts";

/** Everything an operation needs, passed in explicitly: no module state. */
export interface ServerContext {
  queue: QueuePaths;
  /** <queue>/.staging: same filesystem as outbox/ and archive/, outside the synced folders. */
  stagingDir: string;
  /** Local copies for fetch_results, outside the synced folders. */
  workDir: string;
  /** Real paths study_dir must lie under; none means submit_job refuses everything. */
  allowRoots: string[];
  /** Every read and write of jobs goes through it: a watched index (server) or a one-shot disk reader (CLI). */
  catalog: JobCatalog;
  /** Set when the queue is carried by NATS JetStream: the server's URL as it may be shown. */
  nats?: { url: string };
  /** Serialises submissions that share an idempotency_key within this process. */
  submitLocks: KeyedSerial;
  /** Signs job.json and cancel requests; without it they are written unsigned. */
  signingKey?: SigningKey;
  /** The workstation's public keys; none means fetch_results does not check runner_signature. */
  trustedKeys: readonly TrustedKey[];
  now: () => Date;
  close: () => Promise<void>;
}

export interface ContextOptions {
  /** The folder queue's root; with `nats`, unused (the queue is the local mirror of the NATS one). */
  queueRoot: string;
  /** The NATS backend (--nats URL): the catalog reads a local mirror that the NATS queue keeps current. */
  nats?: NatsSettings;
  workDir?: string;
  /** Folders study_dir may be in. None by default: a server started in / must not make the host submittable. */
  allow?: readonly string[];
  /** Keep the job index current with watches (the MCP server); false for one-shot CLI commands. */
  withIndex: boolean;
  /** The state folder holding the persistent job index (default: ATOMIZER_STATE_DIR, else per user). */
  stateDir?: string;
  /** Loaded by the caller (submitter/signing/submitter-keys.ts), which refuses key files inside the queue. */
  signingKey?: SigningKey | undefined;
  trustedKeys?: readonly TrustedKey[];
}

/** Checks the queue layout and allowed roots; a bad setup fails here, clearly, before serving anything. */
export async function createServerContext(options: ContextOptions): Promise<ServerContext> {
  if (!options.nats) await assertQueueLayout(resolve(options.queueRoot));
  const allowRoots = await allowedRoots(options.allow ?? []);
  const kind: CatalogKind = options.withIndex ? "watched" : "disk";
  const { root, catalog } = options.nats
    ? await openNatsBackend(options, options.nats, kind)
    : await openFolderBackend(options, kind);
  const queue = queuePaths(root);
  return {
    queue,
    stagingDir: join(root, ".staging"),
    workDir: resolve(options.workDir ?? join(root, ".work")),
    allowRoots,
    catalog,
    ...(options.nats ? { nats: { url: displayNatsUrl(options.nats.url) } } : {}),
    submitLocks: createKeyedSerial(),
    ...(options.signingKey ? { signingKey: options.signingKey } : {}),
    trustedKeys: options.trustedKeys ?? [],
    now: () => new Date(),
    close: async () => {
      await catalog.close();
    },
  };
}

async function allowedRoots(dirs: readonly string[]): Promise<string[]> {
  const allowRoots: string[] = [];
  for (const dir of dirs) {
    try {
      const real = await realpath(resolve(dir));
      if (!(await stat(real)).isDirectory()) throw new Error("not a folder");
      allowRoots.push(real);
    } catch (error) {
      throw new Error(`--allow ${dir} is not an existing folder (${(error as Error).message})`);
    }
  }
  return allowRoots;
}

async function assertQueueLayout(root: string): Promise<void> {
  const problems = await checkQueueLayout(root);
  if (problems.length > 0) throw new Error(`queue root is not usable:\n  ${problems.join("\n  ")}`);
}

interface Backend {
  /** The folder queue the operations read and stage in: the synced one, or the NATS mirror. */
  root: string;
  catalog: JobCatalog;
}

/** The Syncthing folder queue; the catalog is chosen once, here: no operation asks which one it has. */
async function openFolderBackend(options: ContextOptions, kind: CatalogKind): Promise<Backend> {
  const root = resolve(options.queueRoot);
  const stagingDir = join(root, ".staging");
  // Killed submits and archives leave their folders here; only provably abandoned ones go (see there).
  await cleanStaleStaging(stagingDir);
  const catalog = await openCatalog({
    kind,
    queueRoot: root,
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
    stagingDir,
  });
  return { root, catalog };
}

/** NATS JetStream, read through its local mirror; loaded only here, so the folder queue never loads NATS. */
async function openNatsBackend(
  options: ContextOptions,
  nats: NatsSettings,
  kind: CatalogKind,
): Promise<Backend> {
  const { openNatsCatalog } = await import("./catalog/open-nats-catalog.ts");
  const { catalog, location } = await openNatsCatalog({
    kind,
    nats,
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
  });
  await cleanStaleStaging(location.stagingDir);
  return { root: location.queueRoot, catalog };
}
