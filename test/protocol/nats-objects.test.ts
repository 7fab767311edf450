// uploadFile and downloadObject on a real nats-server: a round trip keeps every byte, a file that
// does not match its index is never kept, and memory stays flat whatever the file's size.
import { createHash } from "node:crypto";
import { readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Base64UrlPaddedCodec } from "@nats-io/obj";
import { headers } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeLargeFile } from "../../bench/generate-study.ts";
import { isProtocolError } from "../../protocol/errors.ts";
import { digestToHex } from "../../protocol/nats-chunk-reader.ts";
import type { NatsQueue } from "../../protocol/nats-connect.ts";
import { openNats } from "../../protocol/nats-connect.ts";
import { downloadObject, uploadFile } from "../../protocol/nats-objects.ts";
import type { RunningNats } from "../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../helpers/nats-server.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("nats-objects");
const MiB = 1024 * 1024;

async function sha256Of(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe("digestToHex", () => {
  it.each<[string, string, string | undefined]>([
    [
      "the empty file's digest",
      "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ],
    ["another digest type", "MD5=1B2M2Y8AsgTpgAmY7PhCfg==", undefined],
    ["a digest of the wrong length", "SHA-256=AAAA", undefined],
  ])("%s", (_what, digest, hex) => {
    expect(digestToHex(digest)).toBe(hex);
  });
});

describe.runIf(natsServerPresent())("uploadFile and downloadObject", () => {
  let server: RunningNats;
  let q: NatsQueue;
  beforeAll(async () => {
    server = await startNatsServer();
    q = await openNats({ url: server.url }, {});
  });
  afterAll(async () => {
    await q?.close();
    await server?.stop();
  });

  it("a 20 MB random file round-trips with the same sha256, which the store's own digest confirms", async () => {
    const dir = await tempDir();
    const source = join(dir, "model.fem");
    const bytes = Buffer.alloc(20 * 1000 * 1000);
    for (let at = 0; at < bytes.length; at += MiB)
      createHash("sha256").update(String(at)).digest().copy(bytes, at);
    crypto.getRandomValues(bytes.subarray(0, 65536));
    await writeFile(source, bytes);
    const want = createHash("sha256").update(bytes).digest("hex");

    const sent = await uploadFile(q, source, "job-rt/sub/1_setup/model.fem");
    expect(sent).toEqual({ size: bytes.length, sha256: want });
    const info = await q.objects.info("job-rt/sub/1_setup/model.fem");
    expect(info?.size).toBe(bytes.length);
    expect(info?.chunks).toBe(Math.ceil(bytes.length / (128 * 1024)));
    expect(digestToHex(info?.digest ?? "")).toBe(want);

    const target = join(dir, "back", "model.fem");
    await downloadObject(q, "job-rt/sub/1_setup/model.fem", target, sent);
    expect(await sha256Of(target)).toBe(want);
  });

  it("an empty file round-trips", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "__init__.py"), "");
    const sent = await uploadFile(q, join(dir, "__init__.py"), "job-empty/sub/__init__.py");
    expect(sent).toEqual({
      size: 0,
      sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    });
    await downloadObject(q, "job-empty/sub/__init__.py", join(dir, "out.py"), sent);
    expect((await stat(join(dir, "out.py"))).size).toBe(0);
  });

  it.each<[string, (e: { size: number; sha256: string }) => { size: number; sha256: string }]>([
    ["a different sha256", (e) => ({ ...e, sha256: "0".repeat(64) })],
    ["a different size", (e) => ({ ...e, size: e.size + 1 })],
  ])("an expectation with %s is refused and no target is left", async (_what, corrupt) => {
    const dir = await tempDir();
    await writeFile(join(dir, "a.txt"), "payload\n".repeat(50_000));
    const sent = await uploadFile(q, join(dir, "a.txt"), "job-refuse/sub/a.txt");
    const target = join(dir, "a-back.txt");
    const failure = await downloadObject(q, "job-refuse/sub/a.txt", target, corrupt(sent)).catch(
      (e: unknown) => e,
    );
    expect(isProtocolError(failure, "conflict")).toBe(true);
    expect((failure as Error).message).toMatch(/does not match its file index.*upload it again/);
    expect(await exists(target)).toBe(false);
  });

  it("chunks that do not hash to the digest are caught while written, and the target is removed", async () => {
    const dir = await tempDir();
    const real = "R".repeat(300_000);
    const claimed = "C".repeat(300_000);
    await writeFile(join(dir, "real.bin"), real);
    const sent = await uploadFile(q, join(dir, "real.bin"), "job-tamper/sub/real.bin");
    // Someone rewrites the object's info to claim other content of the same size: the store's digest
    // now agrees with the expectation, only the bytes themselves tell.
    const claimedSha = createHash("sha256").update(claimed).digest("hex");
    const info = await q.objects.info("job-tamper/sub/real.bin");
    if (info === null) throw new Error("no info");
    const forged = {
      name: info.name,
      bucket: info.bucket,
      nuid: info.nuid,
      size: info.size,
      chunks: info.chunks,
      mtime: info.mtime,
      deleted: false,
      options: info.options,
      digest: `SHA-256=${Buffer.from(claimedSha, "hex").toString("base64url")}=`,
    };
    const h = headers();
    h.set("Nats-Rollup", "sub");
    await q.js.publish(
      `$O.atomizer-files.M.${Base64UrlPaddedCodec.encode(info.name)}`,
      JSON.stringify(forged),
      { headers: h },
    );
    const target = join(dir, "real-back.bin");
    await expect(
      downloadObject(q, "job-tamper/sub/real.bin", target, { size: sent.size, sha256: claimedSha }),
    ).rejects.toThrow(/the bytes received have 300000 bytes sha256 [0-9a-f]{64}; .* was not kept/);
    expect(await exists(target)).toBe(false);
  });

  it("a target that exists (a file or a link) is never overwritten", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "src.txt"), "new content\n");
    const sent = await uploadFile(q, join(dir, "src.txt"), "job-wx/sub/src.txt");
    await writeFile(join(dir, "victim.txt"), "keep me\n");
    await symlink(join(dir, "victim.txt"), join(dir, "link.txt"));
    for (const name of ["victim.txt", "link.txt"]) {
      await expect(downloadObject(q, "job-wx/sub/src.txt", join(dir, name), sent)).rejects.toThrow(/EEXIST/);
    }
    expect(await readFile(join(dir, "victim.txt"), "utf8")).toBe("keep me\n");
  });

  it("a missing object is not_found, naming it", async () => {
    const dir = await tempDir();
    const failure = await downloadObject(q, "job-none/sub/x", join(dir, "x"), {
      size: 1,
      sha256: "0".repeat(64),
    }).catch((e: unknown) => e);
    expect(isProtocolError(failure, "not_found")).toBe(true);
    expect((failure as Error).message).toContain("job-none/sub/x");
    expect(await exists(join(dir, "x"))).toBe(false);
  });

  it("uploadFile refuses a link instead of sending what it points at", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "secret"), "s3cret\n");
    await symlink(join(dir, "secret"), join(dir, "innocent.txt"));
    await expect(uploadFile(q, join(dir, "innocent.txt"), "job-link/sub/innocent.txt")).rejects.toThrow(
      /symbolic link/,
    );
    expect(await q.objects.info("job-link/sub/innocent.txt")).toBeNull();
  });

  it("memory stays flat: a 64 MiB upload and download grow the resident set far less than the file", async () => {
    const dir = await tempDir();
    const source = join(dir, "big.bin");
    await writeLargeFile(source, 64 * MiB);
    await writeLargeFile(join(dir, "warm.bin"), 4 * MiB);
    // A child with the runner's 1 MB young generation (bin/memory-flags.js), so the figure is the
    // process's own, not the test worker's.
    const script = `
      import { openNats } from ${JSON.stringify(new URL("../../protocol/nats-connect.ts", import.meta.url).pathname)};
      import { uploadFile, downloadObject } from ${JSON.stringify(new URL("../../protocol/nats-objects.ts", import.meta.url).pathname)};
      const q = await openNats({ url: process.env.URL }, {});
      let peak = 0;
      const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 2);
      const measure = async (work) => { const before = process.memoryUsage().rss; peak = before; const out = await work(); peak = Math.max(peak, process.memoryUsage().rss); return [out, (peak - before) / 1e6]; };
      // warm-up, unmeasured: the first round trip of a process grows it by about 20 MB whatever the
      // size (code, heap, socket buffers); what must not grow with the file is measured after it
      const warm = await uploadFile(q, process.env.WARM, "job-mem/sub/warm.bin");
      await downloadObject(q, "job-mem/sub/warm.bin", process.env.WARM + ".back", warm);
      const [sent, upMb] = await measure(() => uploadFile(q, process.env.SOURCE, "job-mem/sub/big.bin"));
      const [, downMb] = await measure(() => downloadObject(q, "job-mem/sub/big.bin", process.env.TARGET, sent));
      clearInterval(sample);
      await q.close();
      console.log(JSON.stringify({ upMb, downMb, sent }));
    `;
    const { execFileSync } = await import("node:child_process");
    const out = execFileSync(
      process.execPath,
      ["--max-semi-space-size=1", "--input-type=module", "-e", script],
      {
        env: {
          ...process.env,
          URL: server.url,
          SOURCE: source,
          WARM: join(dir, "warm.bin"),
          TARGET: join(dir, "big-back.bin"),
        },
        encoding: "utf8",
      },
    );
    const { upMb, downMb, sent } = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as {
      upMb: number;
      downMb: number;
      sent: { sha256: string };
    };
    expect(sent.sha256).toBe(await sha256Of(source));
    expect(await sha256Of(join(dir, "big-back.bin"))).toBe(sent.sha256);
    console.log(`64 MiB: upload +${upMb.toFixed(1)} MB, download +${downMb.toFixed(1)} MB resident`);
    // 24 MB: a third of the file, and about twice the worst seen (12.8 MB) on a busy 2-core machine
    expect(upMb).toBeLessThan(24);
    expect(downMb).toBeLessThan(24);
  });
});
