import { mkdir } from "node:fs/promises";
import { initQueue, queuePaths } from "../../protocol/index.ts";
import type { NatsSettings } from "../../protocol/nats-connect.ts";
import { openNats } from "../../protocol/nats-connect.ts";
import { prepareStateDir } from "./index-location.ts";
import type { CatalogOptions } from "./job-catalog.ts";
import { NatsCatalog } from "./nats-catalog.ts";
import { MirrorKeeper } from "./nats-mirror-keeper.ts";
import type { NatsMirrorLocation } from "./nats-mirror-location.ts";
import { natsMirrorFor } from "./nats-mirror-location.ts";
import { openCatalog } from "./open-catalog.ts";

export interface NatsCatalogOptions extends Omit<CatalogOptions, "queueRoot" | "stagingDir"> {
  nats: NatsSettings;
  env?: NodeJS.ProcessEnv;
  /** How often a process without the mirror lock tries for it again (tests shorten it). */
  lockRetryMs?: number;
}

/**
 * Connects to NATS, lays out the local mirror queue, starts keeping it (the downloader, in whichever
 * process holds its lock) and opens the folder catalog over it. A one-shot command's catalog is up
 * to date when this resolves; a server's is within a few seconds, then follows KV.
 */
export async function openNatsCatalog(
  options: NatsCatalogOptions,
): Promise<{ catalog: NatsCatalog; location: NatsMirrorLocation }> {
  const location = natsMirrorFor(options.stateDir, options.nats.url);
  await prepareStateDir(location.dir);
  await initQueue(location.queueRoot);
  await mkdir(location.stagingDir, { recursive: true });
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const nats = await openNats(options.nats, options.env ?? process.env, { name: "atomizer-submitter" });
  const keeper = new MirrorKeeper(
    { nats, queue: queuePaths(location.queueRoot), stagingDir: location.stagingDir },
    {
      kind: options.kind,
      lockDir: location.dir,
      log,
      ...(options.lockRetryMs !== undefined ? { retryMs: options.lockRetryMs } : {}),
    },
  );
  try {
    await keeper.start();
    const { nats: _settings, env: _env, lockRetryMs: _retry, ...catalogOptions } = options;
    const mirror = await openCatalog({
      ...catalogOptions,
      log,
      queueRoot: location.queueRoot,
      stagingDir: location.stagingDir,
    });
    return { catalog: new NatsCatalog(mirror, nats, keeper), location };
  } catch (error) {
    await keeper.close().catch(() => undefined);
    await nats.close().catch(() => undefined);
    throw error;
  }
}
