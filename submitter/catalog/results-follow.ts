import type { Job } from "../../protocol/index.ts";
import type { VerificationCache } from "../jobs/results-check.ts";
import type { ResultsVerification } from "./job-catalog.ts";
import { verifyResults } from "./results-verification.ts";

export interface ResultsDecision {
  /** Keep following the job's folder: listed result files are still arriving. */
  follow: boolean;
  /** Set when results this tracker saw syncing have just verified. */
  verified?: ResultsVerification;
  /** The manifest's published_at once its files are found complete (kept in the index). */
  settled?: string;
}

/**
 * Decides, for a final runner job.json, whether its results still need following. Results found
 * complete (by size) at first sight are settled without hashing, and the index remembers that, so a
 * restart does not look at them again; results seen syncing are checked in full on every change
 * until they verify, and that moment is reported once. Only syncing jobs are held here.
 */
export class ResultsTracker {
  readonly #cache: VerificationCache;
  readonly #syncing = new Set<string>();

  constructor(cache: VerificationCache) {
    this.#cache = cache;
  }

  /** `settled`: what the index says was found complete before. */
  async check(jobId: string, dir: string, job: Job, settled: string | undefined): Promise<ResultsDecision> {
    const manifest = job.results;
    if (!manifest) {
      this.#syncing.delete(jobId);
      return { follow: false };
    }
    const wasSyncing = this.#syncing.has(jobId);
    if (!wasSyncing && settled === manifest.published_at) return { follow: false, settled };
    let verification: ResultsVerification;
    try {
      verification = await verifyResults(dir, manifest, this.#cache, wasSyncing ? "full" : "sizes");
    } catch {
      // A file locked or vanishing mid-check: still arriving, as far as this side can tell.
      this.#syncing.add(jobId);
      return { follow: true };
    }
    if (verification.state === "syncing") {
      this.#syncing.add(jobId);
      return { follow: true };
    }
    this.#syncing.delete(jobId);
    const done = { follow: false, settled: manifest.published_at };
    return wasSyncing && verification.state === "verified" ? { ...done, verified: verification } : done;
  }

  /** A `get` found the results not verifying after all (content still arriving): follow them again. */
  markSyncing(jobId: string): void {
    this.#syncing.add(jobId);
  }

  isSyncing(jobId: string): boolean {
    return this.#syncing.has(jobId);
  }

  forget(jobId: string): void {
    this.#syncing.delete(jobId);
  }
}
