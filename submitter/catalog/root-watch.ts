import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { DirWatch, QueuePaths } from "../../protocol/index.ts";
import { isJobId, parseArchiveDirName, pathExists, watchDir } from "../../protocol/index.ts";
import type { RootName } from "./index-store.ts";

export type { RootName };

/** A name directly in outbox/, inbox/ or archive/ that may have appeared, changed or vanished. */
export interface RootEntry {
  root: RootName;
  /** The folder's name (archive/<job_id>-<stamp> for archives). */
  name: string;
  jobId: string;
}

const ROOTS: readonly RootName[] = ["outbox", "inbox", "archive"];

export function jobIdOfEntry(root: RootName, name: string): string | undefined {
  if (root === "archive") return parseArchiveDirName(name)?.job_id;
  return name.startsWith("job-") ? name : undefined;
}

export interface RootHandlers {
  onEntry(entry: RootEntry): void;
  /** The root's watch may have missed events: list it again. */
  onReset(root: RootName): void;
}

/**
 * outbox/, inbox/ and archive/ themselves, one level deep: outbox and archive folders are published
 * whole by rename from this side (PROTOCOL.md), so a name appearing or vanishing says all there is,
 * and inbox/<id>/ appearing or vanishing is seen here too. Nothing is held per entry, so a queue of
 * 100,000 archived jobs costs the same three watches as an empty one.
 */
export function watchQueueRoots(
  queue: QueuePaths,
  only: string | undefined,
  handlers: RootHandlers,
): DirWatch[] {
  return ROOTS.map((root) =>
    watchDir(queue[root], {
      onName(name) {
        const jobId = jobIdOfEntry(root, name);
        if (jobId === undefined || (only !== undefined && jobId !== only)) return;
        handlers.onEntry({ root, name, jobId });
      },
      onReset: () => handlers.onReset(root),
    }),
  );
}

/** .state/fetched/<id>.json appearing or rewritten (fetch_results' receipts); the folder is made first. */
export async function watchReceipts(
  fetchedDir: string,
  onReceipt: (jobId: string) => void,
): Promise<DirWatch> {
  await mkdir(fetchedDir, { recursive: true });
  return watchDir(fetchedDir, {
    onName(name) {
      const jobId = name.endsWith(".json") ? name.slice(0, -".json".length) : "";
      if (!isJobId(jobId)) return;
      // The event says only "look": a receipt renamed in is there, a temporary file gone is not.
      void pathExists(join(fetchedDir, name)).then(
        (there) => {
          if (there) onReceipt(jobId);
        },
        () => undefined,
      );
    },
    onReset() {
      // The next receipt, or the subscriber's rescan, reports what was missed.
    },
  });
}
