import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";

/** A folder shared between the two instances: who sends, who receives (as in docs/deployment.md). */
export interface SharedFolder {
  id: string;
  /** Path on side A (the submitting side) and side B (the runner side). */
  pathA: string;
  pathB: string;
  typeA: "sendonly" | "receiveonly" | "sendreceive";
  typeB: "sendonly" | "receiveonly" | "sendreceive";
  /** Pull order on the receiving side; production uses Syncthing's default, random. */
  order?: "random" | "smallestFirst" | "largestFirst" | "alphabetic";
}

interface Instance {
  name: "A" | "B";
  home: string;
  deviceId: string;
  listenPort: number;
  guiPort: number;
  apiKey: string;
  process?: ChildProcess;
  log: string[];
}

export interface SyncthingPairOptions {
  /** Scratch folder for both homes. */
  root: string;
  folders: SharedFolder[];
  /** Syncthing's own rate limit (KiB/s) on each side, so large files take seconds to cross. 0 = none. */
  maxSendKbps?: number;
}

export function hasSyncthing(): boolean {
  try {
    execFileSync("syncthing", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function deviceXml(id: string, name: string, address: string, maxSendKbps: number): string {
  return `    <device id="${id}" name="${name}" compression="never" introducer="false" skipIntroductionRemovals="false" introducedBy="">
        <address>${address}</address>
        <paused>false</paused>
        <autoAcceptFolders>false</autoAcceptFolders>
        <maxSendKbps>${maxSendKbps}</maxSendKbps>
        <maxRecvKbps>0</maxRecvKbps>
        <maxRequestKiB>0</maxRequestKiB>
        <untrusted>false</untrusted>
        <remoteGUIPort>0</remoteGUIPort>
    </device>`;
}

function folderXml(folder: SharedFolder, side: "A" | "B", self: string, peer: string): string {
  const path = side === "A" ? folder.pathA : folder.pathB;
  const type = side === "A" ? folder.typeA : folder.typeB;
  return `    <folder id="${folder.id}" label="${folder.id}" path="${escapeXml(path)}" type="${type}" rescanIntervalS="60" fsWatcherEnabled="true" fsWatcherDelayS="1" ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="${self}" introducedBy=""><encryptionPassword></encryptionPassword></device>
        <device id="${peer}" introducedBy=""><encryptionPassword></encryptionPassword></device>
        <minDiskFree unit="%">0</minDiskFree>
        <versioning><cleanupIntervalS>3600</cleanupIntervalS><fsPath></fsPath><fsType>basic</fsType></versioning>
        <copiers>0</copiers>
        <pullerMaxPendingKiB>0</pullerMaxPendingKiB>
        <hashers>0</hashers>
        <order>${folder.order ?? "random"}</order>
        <ignoreDelete>false</ignoreDelete>
        <scanProgressIntervalS>0</scanProgressIntervalS>
        <pullerPauseS>0</pullerPauseS>
        <maxConflicts>10</maxConflicts>
        <disableSparseFiles>false</disableSparseFiles>
        <disableTempIndexes>false</disableTempIndexes>
        <paused>false</paused>
        <weakHashThresholdPct>25</weakHashThresholdPct>
        <markerName>.stfolder</markerName>
        <copyOwnershipFromParent>false</copyOwnershipFromParent>
        <modTimeWindowS>0</modTimeWindowS>
        <maxConcurrentWrites>2</maxConcurrentWrites>
        <disableFsync>false</disableFsync>
        <blockPullOrder>standard</blockPullOrder>
        <copyRangeMethod>standard</copyRangeMethod>
        <caseSensitiveFS>false</caseSensitiveFS>
        <junctionsAsDirs>false</junctionsAsDirs>
    </folder>`;
}

function configXml(self: Instance, peer: Instance, folders: SharedFolder[], maxSendKbps: number): string {
  // Discovery, relays, NAT traversal, usage reports and upgrades off: loopback only, fully offline.
  return `<configuration version="36">
${folders.map((f) => folderXml(f, self.name, self.deviceId, peer.deviceId)).join("\n")}
${deviceXml(self.deviceId, `side-${self.name}`, "dynamic", 0)}
${deviceXml(peer.deviceId, `side-${peer.name}`, `tcp://127.0.0.1:${peer.listenPort}`, maxSendKbps)}
    <gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:${self.guiPort}</address>
        <apikey>${self.apiKey}</apikey>
        <theme>default</theme>
    </gui>
    <options>
        <listenAddress>tcp://127.0.0.1:${self.listenPort}</listenAddress>
        <globalAnnounceServer>default</globalAnnounceServer>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <maxSendKbps>${maxSendKbps}</maxSendKbps>
        <maxRecvKbps>0</maxRecvKbps>
        <reconnectionIntervalS>1</reconnectionIntervalS>
        <relaysEnabled>false</relaysEnabled>
        <startBrowser>false</startBrowser>
        <natEnabled>false</natEnabled>
        <urAccepted>-1</urAccepted>
        <urSeen>3</urSeen>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <keepTemporariesH>24</keepTemporariesH>
        <progressUpdateIntervalS>1</progressUpdateIntervalS>
        <limitBandwidthInLan>${maxSendKbps > 0}</limitBandwidthInLan>
        <minHomeDiskFree unit="%">0</minHomeDiskFree>
        <crashReportingEnabled>false</crashReportingEnabled>
        <setLowPriority>false</setLowPriority>
        <announceLANAddresses>false</announceLANAddresses>
    </options>
</configuration>
`;
}

/**
 * Two real Syncthing instances on loopback, configured like production (docs/deployment.md), for the
 * end-to-end tests and benchmark P7 (bench/p7-syncthing-round-trip.ts). Everything stays on 127.0.0.1.
 */
export class SyncthingPair {
  readonly a: Instance;
  readonly b: Instance;
  readonly options: SyncthingPairOptions;

  private constructor(options: SyncthingPairOptions, a: Instance, b: Instance) {
    this.options = options;
    this.a = a;
    this.b = b;
  }

  static async start(options: SyncthingPairOptions): Promise<SyncthingPair> {
    const make = async (name: "A" | "B"): Promise<Instance> => {
      const home = join(options.root, `syncthing-${name}`);
      await mkdir(home, { recursive: true });
      execFileSync("syncthing", ["generate", `--home=${home}`, "--no-default-folder"], { stdio: "ignore" });
      const generated = await readFile(join(home, "config.xml"), "utf8");
      const deviceId = /<device id="([A-Z0-9-]+)"/.exec(generated)?.[1];
      if (!deviceId) throw new Error(`syncthing generate wrote no device id in ${home}`);
      return {
        name,
        home,
        deviceId,
        listenPort: await freePort(),
        guiPort: await freePort(),
        apiKey: randomBytes(16).toString("hex"),
        log: [],
      };
    };
    const a = await make("A");
    const b = await make("B");
    const maxSendKbps = options.maxSendKbps ?? 0;
    for (const folder of options.folders) {
      for (const path of [folder.pathA, folder.pathB])
        await mkdir(join(path, ".stfolder"), { recursive: true });
    }
    await writeFile(join(a.home, "config.xml"), configXml(a, b, options.folders, maxSendKbps));
    await writeFile(join(b.home, "config.xml"), configXml(b, a, options.folders, maxSendKbps));
    const pair = new SyncthingPair(options, a, b);
    for (const instance of [a, b]) pair.spawn(instance);
    await pair.waitConnected(60_000);
    return pair;
  }

  private spawn(instance: Instance): void {
    const child = spawn(
      "syncthing",
      ["serve", `--home=${instance.home}`, "--no-browser", "--no-restart", "--no-upgrade", "--logflags=0"],
      {
        env: {
          ...process.env,
          STNODEFAULTFOLDER: "1",
          STNOUPGRADE: "1",
          STNORESTART: "1",
          STGUIAPIKEY: instance.apiKey,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const keep = (chunk: Buffer) => {
      instance.log.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      if (instance.log.length > 400) instance.log.splice(0, instance.log.length - 400);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    instance.process = child;
  }

  async rest<T>(instance: Instance, path: string): Promise<T> {
    const response = await fetch(`http://127.0.0.1:${instance.guiPort}${path}`, {
      headers: { "X-API-Key": instance.apiKey },
    });
    if (!response.ok) throw new Error(`syncthing ${instance.name} ${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  }

  async waitConnected(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const connections = await this.rest<{ connections: Record<string, { connected: boolean }> }>(
          this.a,
          "/rest/system/connections",
        );
        if (connections.connections[this.b.deviceId]?.connected) return;
      } catch {
        // GUI not up yet
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`Syncthing instances did not connect within ${timeoutMs} ms:\n${this.logs()}`);
  }

  /** Whether `side` has pulled everything of `folder` that the other side has (completion 100%). */
  async completion(side: "A" | "B", folder: string): Promise<number> {
    const self = side === "A" ? this.a : this.b;
    const peer = side === "A" ? this.b : this.a;
    const result = await this.rest<{ completion: number }>(
      peer,
      `/rest/db/completion?folder=${encodeURIComponent(folder)}&device=${self.deviceId}`,
    );
    return result.completion;
  }

  /** Conflict reports or errors Syncthing has logged: the tests assert there are none. */
  logs(): string {
    return [...this.a.log.map((l) => `A: ${l}`), ...this.b.log.map((l) => `B: ${l}`)].slice(-80).join("\n");
  }

  async stop(): Promise<void> {
    await Promise.all(
      [this.a, this.b].map(
        (instance) =>
          new Promise<void>((resolve) => {
            const child = instance.process;
            if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
            setTimeout(() => child.kill("SIGKILL"), 5000).unref();
          }),
      ),
    );
  }
}
