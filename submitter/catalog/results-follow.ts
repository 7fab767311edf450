import type { Job } from "../../protocol/index.ts";
import type { VerificationCache } from "../jobs/results-check.ts";
import type { ResultsVerification } from "./job-catalog.ts";
import { verifyResults } from "./results-verification.ts";

export interface ResultsDecision {
  /** Keep following the job's folder: listed result files are still arriving. */
  follow: boolean;
  /** Set when results this tracker saw syncing have just verified. */
  verified?: ResultsVerification;
}

/**
 * Decides, for a final runner job.json, whether its results still need following. Results found
 * complete (by size) at first sight are settled without hashing; results seen syncing are checked in
 * full on every change until they verify, and that moment is reported once.
 */
export class ResultsTracker {
  readonly #cache: VerificationCache;
  /** Jobs whose results were found complete, by the manifest's published_at. */
  readonly #settled = new Map<string, string>();
  readonly #syncing = new Set<string>();

  constructor(cache: VerificationCache) {
    this.#cache = cache;
  }

  async check(jobId: string, dir: string, job: Job): Promise<ResultsDecision> {
    const manifest = job.results;
    if (!manifest) {
      this.forget(jobId);
      return { follow: false };
    }
    if (this.#settled.get(jobId) === manifest.published_at) return { follow: false };
    const wasSyncing = this.#syncing.has(jobId);
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
    this.#settled.set(jobId, manifest.published_at);
    this.#syncing.delete(jobId);
    return wasSyncing && verification.state === "verified"
      ? { follow: false, verified: verification }
      : { follow: false };
  }

  /** A `get` found the results not verifying after all (content still arriving): follow them again. */
  markSyncing(jobId: string): void {
    this.#settled.delete(jobId);
    this.#syncing.add(jobId);
  }

  isSyncing(jobId: string): boolean {
    return this.#syncing.has(jobId);
  }

  forget(jobId: string): void {
    this.#settled.delete(jobId);
    this.#syncing.delete(jobId);
  }
}
