import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { IN_MEMORY } from "./index-db.ts";
import { defaultStateDir } from "./index-location.ts";

/**
 * Where the submitting side keeps its local copy of a NATS queue: `<state dir>/nats/<16 hex>/`, one
 * per server URL, holding `queue/` (a folder queue the folder catalogs read unchanged; no Syncthing
 * touches it) and the downloader's lock beside it. Every process of one user and URL finds the same.
 */
export interface NatsMirrorLocation {
  /** `<state dir>/nats/<16 hex of sha256(url)>`: the lock lives here, outside the queue. */
  dir: string;
  /** `<dir>/queue`: outbox/, inbox/, archive/, .state/ as in a folder queue. */
  queueRoot: string;
  /** `<queueRoot>/.staging`: the same filesystem as the mirror's outbox/ and archive/. */
  stagingDir: string;
}

export function natsMirrorLocation(stateDir: string, url: string): NatsMirrorLocation {
  const dir = join(stateDir, "nats", createHash("sha256").update(url).digest("hex").slice(0, 16));
  const queueRoot = join(dir, "queue");
  return { dir, queueRoot, stagingDir: join(queueRoot, ".staging") };
}

/** The mirror of `url` for a state folder; ":memory:" keeps only the index in memory, not the mirror. */
export function natsMirrorFor(stateDir: string | undefined, url: string): NatsMirrorLocation {
  const dir = stateDir === undefined || stateDir === IN_MEMORY ? defaultStateDir() : resolve(stateDir);
  return natsMirrorLocation(dir, url);
}

/** The URL as it may be shown: without user, password or token (openNats refuses those anyway). */
export function displayNatsUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString();
  } catch {
    return "(an unparsable NATS URL)";
  }
}
