import type { JsMsg } from "@nats-io/jetstream";
import type { KeyedSerial } from "../../protocol/index.ts";
import type { NatsQueue } from "../../protocol/nats-connect.ts";
import type { FileIndex } from "../../protocol/nats-layout.ts";
import type { UploadStats } from "../../protocol/nats-objects.ts";
import type { Logger } from "../log.ts";
import type { RunnerPaths } from "../paths.ts";
import type { NatsRunnerConfig } from "./bridge-config.ts";
import type { RunnerJobs } from "./runner-jobs.ts";

/** A claim this host holds: from `claimed` until its `done` commit and the return of its licences. */
export interface HeldClaim {
  jobId: string;
  /** KV revision of the claim as this host last wrote it: every renew and the commit are CAS on it. */
  revision: number;
  attempt: number;
  /** Licence classes taken for it (returned after the done commit). */
  licences: string[];
  /** The dispatch message, while this process holds it: acked only after the done commit. */
  msg?: JsMsg;
  /** When a renew last succeeded (or the claim was taken), ms since the epoch. */
  lastOkMs: number;
  /** When a renew was last tried. */
  lastTryMs: number;
  /** The last renew failed: tried again at the next tick, not a third of the lease later. */
  failing?: string;
  /** Its local job was told to stop because the lease could not be renewed. */
  killed?: boolean;
  /** The submission still has to be put into the local outbox (a download failed). */
  needsLocal?: boolean;
  /** Download failures so far (any cause): the next try waits 2^n times downloadRetryS. */
  downloadFailures?: number;
  /** Downloads refused for their content (object missing, sha256 differs): the job fails at downloadTries. */
  badDownloads?: number;
  /** No download retry before this, ms since the epoch. */
  nextDownloadMs?: number;
  /** The done commit landed; only the licences remain to be returned. */
  committed?: boolean;
  /** What the last run record carried, so an unchanged inbox is not put again. */
  runText?: string;
  runIndex?: FileIndex;
  /** What is in the Object Store now, put in a record or not yet (a final record waits for its results). */
  sentIndex?: FileIndex;
  /** Each inbox file's size, mtime and inode when last uploaded: an untouched file is not hashed again. */
  uploadStats?: UploadStats;
}

/** The claims of this host, by job id; a job counts against --slots until its done commit. */
export interface ClaimBook {
  get(jobId: string): HeldClaim | undefined;
  has(jobId: string): boolean;
  add(claim: HeldClaim): void;
  remove(jobId: string): void;
  all(): HeldClaim[];
  /** Claims not committed yet: the jobs this runner has taken and not finished. */
  liveCount(): number;
}

export function createClaimBook(): ClaimBook {
  const claims = new Map<string, HeldClaim>();
  return {
    get: (jobId) => claims.get(jobId),
    has: (jobId) => claims.has(jobId),
    add: (claim) => {
      claims.set(claim.jobId, claim);
    },
    remove: (jobId) => {
      claims.delete(jobId);
    },
    all: () => [...claims.values()],
    liveCount: () => [...claims.values()].filter((claim) => !claim.committed).length,
  };
}

/** What the bridge's parts share; passed around, never held in module state. */
export interface BridgeContext {
  q: NatsQueue;
  host: string;
  slots: number;
  nxJobTypes: readonly string[];
  /** The runner honours only signed cancel requests: a cancel alone never keeps a job from running. */
  signedOnly: boolean;
  nats: NatsRunnerConfig;
  /** The runner's local folder queue. */
  paths: RunnerPaths;
  /** `<local queue>/.staging`: downloads are assembled here, then renamed into outbox/ whole. */
  stagingDir: string;
  book: ClaimBook;
  /** Licence classes whose pool `licence.<class>` exists, kept current by a KV watch (licence-pools.ts). */
  pools: ReadonlySet<string>;
  /** One lane per job id: claim, download, renew, publish and commit of a job never interleave. */
  serial: KeyedSerial;
  log: Logger;
  now: () => Date;
  isStopping: () => boolean;
  /** Something changed that may let dispatch take a job (a slot or a licence freed). */
  wake: () => void;
  /** Starts following a held job's local inbox folder (inbox-publisher.ts). */
  follow: (jobId: string) => void;
  /** The runner this bridge lives in: its own stop of a job, and its refusal of one (runner-jobs.ts). */
  jobs: RunnerJobs;
  /** Things logged once per job (a label mismatch), so a redelivery does not repeat the line. */
  noted: Set<string>;
}
