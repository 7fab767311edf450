import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CancelRead } from "../../protocol/index.ts";
import {
  cancelRequestPath,
  fetchReceiptPath,
  hasFetchReceipt,
  jobDirs,
  queuePaths,
  readCancelRequest,
} from "../../protocol/index.ts";
import { mkfifo, POSIX } from "../helpers/hostile-fs.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("job-paths");
const ID = "job-20260210-143022-wfe";

describe("per-job paths", () => {
  it("names the cancel request, the fetch receipt and the job folders (Windows paths on any host)", () => {
    const queue = queuePaths("C:\\Atomizer\\job-queue", path.win32);
    expect(cancelRequestPath(queue, ID, path.win32)).toBe(
      `C:\\Atomizer\\job-queue\\outbox\\.cancel\\${ID}.json`,
    );
    expect(fetchReceiptPath(queue, ID, path.win32)).toBe(
      `C:\\Atomizer\\job-queue\\.state\\fetched\\${ID}.json`,
    );
    expect(jobDirs(queue, ID, path.win32)).toEqual({
      outbox: `C:\\Atomizer\\job-queue\\outbox\\${ID}`,
      inbox: `C:\\Atomizer\\job-queue\\inbox\\${ID}`,
    });
  });
});

describe("readCancelRequest", () => {
  const request = {
    job_id: ID,
    requested_at: "2026-02-10T15:00:00Z",
    requested_by: "optimizer",
    reason: "wrong mesh",
  };
  it.each<{
    name: string;
    posixOnly?: boolean;
    write?: (file: string) => Promise<void>;
    want: CancelRead["kind"];
  }>([
    { name: "none", want: "absent" },
    { name: "a valid request", write: (file) => writeFile(file, JSON.stringify(request)), want: "ok" },
    { name: "half-written JSON", write: (file) => writeFile(file, '{"job_id": "'), want: "unreadable" },
    {
      name: "JSON that is no cancel request",
      write: (file) => writeFile(file, JSON.stringify({ job_id: ID })),
      want: "invalid",
    },
    { name: "a FIFO", posixOnly: true, write: async (file) => mkfifo(file), want: "unreadable" },
  ])("$name: $want", async ({ name: _name, posixOnly, write, want }) => {
    if (posixOnly && !POSIX) return;
    const queue = queuePaths(await tempDir());
    await mkdir(queue.cancelDir, { recursive: true });
    await write?.(cancelRequestPath(queue, ID));
    const read = await readCancelRequest(queue, ID);
    expect(read.kind).toBe(want);
    if (read.kind === "ok") expect(read.request).toEqual(request);
    if (read.kind === "invalid") expect(read.problem).toContain("requested_at");
  });

  it("a queue without outbox/.cancel has no requests", async () => {
    expect(await readCancelRequest(queuePaths(await tempDir()), ID)).toEqual({ kind: "absent" });
  });
});

describe("hasFetchReceipt", () => {
  it("is true once the receipt exists", async () => {
    const queue = queuePaths(await tempDir());
    expect(await hasFetchReceipt(queue, ID)).toBe(false);
    await mkdir(queue.fetchedDir, { recursive: true });
    await writeFile(fetchReceiptPath(queue, ID), "{}");
    expect(await hasFetchReceipt(queue, ID)).toBe(true);
  });
});
