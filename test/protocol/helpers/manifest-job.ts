// Job folders for the manifest and hashing tests: a small nested job, a large patterned file, and the
// sha256 of contents they know.
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import type { FileEntry } from "../../../protocol/job-schema.ts";
import { buildManifest } from "../../../protocol/manifest.ts";

export const EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// printf 'hello\n' | openssl dgst -sha256
export const HELLO_SHA = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
export const BIG_SIZE = 5 * 1024 * 1024;

/** Writes `size` bytes of a repeating, position-dependent pattern in 64 KiB chunks; returns its sha256. */
export async function writeBigFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  const chunkSize = 64 * 1024;
  for (let offset = 0; offset < size; offset += chunkSize) {
    const chunk = Buffer.alloc(Math.min(chunkSize, size - offset));
    for (let i = 0; i < chunk.length; i++) chunk[i] = ((offset + i) * 31 + ((offset + i) >> 12)) & 0xff;
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, "drain");
  }
  out.end();
  await finished(out);
  return hash.digest("hex");
}

/** A small job folder: nested files, an empty file, and a root job.json that is not a job file. */
export async function makeJob(root: string): Promise<FileEntry[]> {
  await mkdir(join(root, "1_setup", "deep", "er"), { recursive: true });
  await writeFile(join(root, "job.json"), "{}");
  await writeFile(join(root, "README.md"), "hello\n");
  await writeFile(join(root, "run_optimization.py"), "print('run')\n");
  await writeFile(join(root, "1_setup", "m1.prt"), "x".repeat(1000));
  await writeFile(join(root, "1_setup", "empty.fem"), "");
  await writeFile(join(root, "1_setup", "deep", "er", "model.sim"), "sim");
  return buildManifest(root);
}
