// P10: a 1 GiB file through the NATS Object Store, our uploadFile/downloadObject beside the client's
// own ObjectStore.put/get of the same file, each side in a child process of its own so its peak
// resident set is its own. Run directly as `node bench/p10-nats-objects.ts child ...` it is that child.
import { spawn } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { fileURLToPath } from "node:url";
import { hashFile } from "../protocol/file-hash.ts";
import { openNats } from "../protocol/nats-connect.ts";
import { downloadObject, uploadFile } from "../protocol/nats-objects.ts";
import { findNatsServer, startNatsServer } from "../test/helpers/nats-server.ts";
import type { Benchmark, BenchResult } from "./bench-result.ts";
import { writeLargeFile } from "./generate-study.ts";
import { memoryStatus } from "./proc-stats.ts";
import type { Summary } from "./stats.ts";
import { formatSummary, summarize } from "./stats.ts";

const SELF = fileURLToPath(import.meta.url);
/** Ours may take this much longer than the client's own put/get of the same file. */
const RATIO_GOAL = 1.1;
/**
 * A child's peak resident set over its idle one (connected, modules loaded: about 100 MB from the
 * sources), whatever the file's size: flat means a small fraction of the 1 GiB file.
 */
const RSS_GROWTH_GOAL_MB = 64;

type Side = "ours" | "client";
type Direction = "upload" | "download";

interface ChildFigures {
  ms: number;
  /** Resident set after connecting, before the transfer. */
  idleRssMb: number;
  /** Peak resident set of the child over its whole life (VmHWM). */
  peakRssMb: number;
  sha256?: string;
}

/** The child: one transfer, timed, then its figures as one JSON line on stdout. */
async function child(
  side: Side,
  direction: Direction,
  url: string,
  file: string,
  object: string,
): Promise<void> {
  const q = await openNats({ url }, {}, { name: `p10-${side}-${direction}` });
  try {
    const idleRssMb = (await memoryStatus(process.pid)).rssMb;
    const started = process.hrtime.bigint();
    let sha256: string | undefined;
    if (direction === "upload" && side === "ours") sha256 = (await uploadFile(q, file, object)).sha256;
    if (direction === "upload" && side === "client") {
      await q.objects.put(
        { name: object },
        Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>,
      );
    }
    if (direction === "download" && side === "ours") {
      const expect = JSON.parse(process.env.P10_EXPECT ?? "{}") as { size: number; sha256: string };
      await downloadObject(q, object, file, expect);
    }
    if (direction === "download" && side === "client") {
      const result = await q.objects.get(object);
      if (result === null) throw new Error(`P10: object ${object} is not there`);
      await pipeline(
        Readable.fromWeb(result.data as unknown as WebReadableStream<Uint8Array>),
        createWriteStream(file, { flags: "wx" }),
      );
      // the client checks its digest at the end of the stream and reports a mismatch here
      if ((await result.error) !== null && (await result.error) !== undefined) throw await result.error;
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const figures: ChildFigures = {
      ms,
      idleRssMb,
      peakRssMb: (await memoryStatus(process.pid)).peakRssMb,
      ...(sha256 ? { sha256 } : {}),
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    await q.close();
  }
}

/** Runs one child with the runner's 1 MB young generation (bin/memory-flags.js) and returns its figures. */
function runChild(
  side: Side,
  direction: Direction,
  url: string,
  file: string,
  object: string,
  expect?: object,
): Promise<ChildFigures> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ["--max-semi-space-size=1", SELF, "child", side, direction, url, file, object],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...(expect ? { P10_EXPECT: JSON.stringify(expect) } : {}) },
      },
    );
    let out = "";
    let err = "";
    proc.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    proc.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    proc.once("error", reject);
    proc.once("exit", (code) => {
      if (code !== 0)
        reject(new Error(`P10: the ${side} ${direction} child exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as ChildFigures);
    });
  });
}

interface Sampled {
  time: Summary;
  peakRss: Summary;
  idleRss: Summary;
  /** Peak over idle, per run. */
  growth: Summary;
}

function sampled(figures: readonly ChildFigures[]): Sampled {
  return {
    time: summarize(figures.map((f) => f.ms)),
    peakRss: summarize(figures.map((f) => f.peakRssMb)),
    idleRss: summarize(figures.map((f) => f.idleRssMb)),
    growth: summarize(figures.map((f) => f.peakRssMb - f.idleRssMb)),
  };
}

function mbPerS(bytes: number, ms: number): string {
  return `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
}

function row(
  direction: Direction,
  sizeLabel: string,
  bytes: number,
  ours: Sampled,
  client: Sampled,
  quick: boolean,
  notes: string[],
): BenchResult {
  const ratio = ours.time.median / client.time.median;
  const met = ratio <= RATIO_GOAL && ours.growth.max <= RSS_GROWTH_GOAL_MB;
  const api =
    direction === "upload"
      ? "uploadFile (ObjectStore.put of our file stream, sha256 from its digest)"
      : "downloadObject (bounded chunk reader)";
  const theirs =
    direction === "upload"
      ? "ObjectStore.put(Readable.toWeb(createReadStream))"
      : "ObjectStore.get piped to a file";
  return {
    id: `P10 ${direction}`,
    what: `${direction} of a ${sizeLabel} file through the NATS Object Store (nats-server on loopback), ${api}`,
    figure: `${formatSummary(ours.time, "ms", 0)}, ${mbPerS(bytes, ours.time.median)}; peak RSS ${ours.peakRss.median.toFixed(1)} MB, +${formatSummary(ours.growth, "MB", 1)} over idle`,
    baseline: `${theirs}: ${formatSummary(client.time, "ms", 0)}, ${mbPerS(bytes, client.time.median)}; peak RSS ${client.peakRss.median.toFixed(1)} MB, +${formatSummary(client.growth, "MB", 1)} over idle`,
    ratio: ratio.toFixed(2),
    goal: `ratio <= ${RATIO_GOAL}; peak RSS <= idle + ${RSS_GROWTH_GOAL_MB} MB`,
    verdict: quick ? "n/a" : met ? "met" : "missed",
    notes,
  };
}

export const natsObjectsBenchmark: Benchmark = async ({ quick, scratch, log }) => {
  const bytes = quick ? 16 * 1024 * 1024 : 1024 * 1024 * 1024;
  const sizeLabel = quick ? "16 MiB" : "1 GiB";
  if (findNatsServer() === undefined) {
    return (["upload", "download"] as const).map((direction) => ({
      id: `P10 ${direction}`,
      what: `${direction} of a ${sizeLabel} file through the NATS Object Store`,
      figure: "-",
      baseline: "-",
      ratio: "-",
      goal: `ratio <= ${RATIO_GOAL}; peak RSS <= idle + ${RSS_GROWTH_GOAL_MB} MB`,
      verdict: "skipped" as const,
      notes: ["no nats-server (Debian: apt-get install nats-server)"],
    }));
  }
  const runs = quick ? 1 : 3;
  const source = join(scratch, "p10-source.bin");
  log(`P10: writing a ${sizeLabel} file`);
  await writeLargeFile(source, bytes);
  const want = await hashFile(source);
  const server = await startNatsServer({ storeDir: join(scratch, "p10-jetstream") });
  try {
    // Set up once here, so no child's time includes creating the streams; each run's objects are
    // deleted after it (4 runs of 1 GiB a side would otherwise hold 8 GiB of store).
    const q = await openNats({ url: server.url }, {});
    const figures = {
      upload: { ours: [] as ChildFigures[], client: [] as ChildFigures[] },
      download: { ours: [] as ChildFigures[], client: [] as ChildFigures[] },
    };
    // The sides take turns run by run (as bench/timing.ts alternate), after one unmeasured warm-up each.
    for (let run = -1; run < runs; run++) {
      for (const side of ["ours", "client"] as const) {
        const object = `p10/${side}/${run + 1}`;
        const up = await runChild(side, "upload", server.url, source, object);
        if (side === "ours" && up.sha256 !== want.sha256)
          throw new Error(`P10: uploadFile reported sha256 ${up.sha256}, the file has ${want.sha256}`);
        const target = join(scratch, `p10-${side}-${run + 1}.bin`);
        const down = await runChild(side, "download", server.url, target, object, want);
        const got = await hashFile(target);
        if (got.sha256 !== want.sha256 || got.size !== want.size)
          throw new Error(`P10: the ${side} download differs from the source`);
        await rm(target, { force: true });
        await q.objects.delete(object);
        if (run >= 0) {
          figures.upload[side].push(up);
          figures.download[side].push(down);
        }
        log(
          `P10: run ${run + 1} ${side}: upload ${up.ms.toFixed(0)} ms (peak ${up.peakRssMb.toFixed(0)} MB), download ${down.ms.toFixed(0)} ms (peak ${down.peakRssMb.toFixed(0)} MB)`,
        );
      }
    }
    await q.close();
    const up = { ours: sampled(figures.upload.ours), client: sampled(figures.upload.client) };
    const down = { ours: sampled(figures.download.ours), client: sampled(figures.download.client) };
    const common = `Each transfer runs in a child process of its own (node --max-semi-space-size=1, as the runner runs), connected before it is timed; peak RSS is that child's VmHWM, its idle RSS after connecting ${formatSummary(up.ours.idleRss, "MB", 1)}. The sides take turns run by run after one unmeasured warm-up each; nats-server ${server.url} on loopback with a file store, the same 2-core machine. Both sides use node:crypto for the client's own put hash (openNats selects the native SHA-256 backend; the client's default JavaScript one made uploads about 2.3x slower when measured).`;
    return [
      row("upload", sizeLabel, bytes, up.ours, up.client, quick, [
        common,
        "uploadFile reads 256 KiB at a time into a pull stream one read ahead of put, and takes the sha256 from put's own digest of the chunks it published (node:crypto); hashing a second time in uploadFile measured 1.22 and 1.30 here, about 1.2 s of event-loop CPU per GiB; put publishes 128 KiB chunks, each awaiting the server's ack, so both sides are bound by that round trip.",
      ]),
      row("download", sizeLabel, bytes, down.ours, down.client, quick, [
        "downloadObject asks an ordered consumer of the object's chunk subject for 32 chunks (4 MiB) at a time and asks for the next batch only after writing this one, hashing as it writes; ObjectStore.get pushes every chunk into an unbounded stream as fast as the server sends, with no back-pressure from the file.",
      ]),
    ];
  } finally {
    await server.stop();
  }
};

if (process.argv[1] === SELF && process.argv[2] === "child") {
  const [side, direction, url, file, object] = process.argv.slice(3) as [
    Side,
    Direction,
    string,
    string,
    string,
  ];
  await child(side, direction, url, file, object);
}
