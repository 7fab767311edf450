import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { errnoCode, isProtocolError } from "../../protocol/errors.ts";
import { parseJob, readJob, writeJob } from "../../protocol/job-file.ts";
import type { Job } from "../../protocol/job-schema.ts";
import { transition, update } from "../../protocol/state-machine.ts";
import { SEED_JOB_TEXT, seedJob, useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("job-file");

describe("parseJob / writeJob / readJob", () => {
  it("round-trips the SYS_19 seed example unchanged", async () => {
    const dir = await tempDir();
    const seed = seedJob();
    const parsed = parseJob(JSON.parse(SEED_JOB_TEXT));
    expect(parsed).toStrictEqual(seed);

    await writeJob(dir, parsed);
    const text = await readFile(join(dir, "job.json"), "utf8");
    expect(JSON.parse(text)).toStrictEqual(seed);
    // Same fields in the same order, nothing added: the file is the seed, re-indented.
    expect(text).toBe(`${JSON.stringify(seed, null, 2)}\n`);

    const read = await readJob(dir);
    expect(read).toStrictEqual(seed);
    expect(JSON.stringify(read)).toBe(JSON.stringify(seed));
  });

  it("reads the seed text exactly as a SYS_19 writer left it", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "job.json"), SEED_JOB_TEXT);
    expect(await readJob(dir)).toStrictEqual(seedJob());
  });

  it("keeps unknown fields through a read-modify-write with transition() and update()", async () => {
    const dir = await tempDir();
    const future = {
      ...seedJob(),
      x_priority: "high",
      x_nested: { keep: [1, 2, { deep: true }] },
      notify: { on_complete: true, on_fail: true, mention: "@antoine" },
      runner: { host: "nx-ws-01", version: "9.0.0", gpu: "A4000" },
    };
    await writeFile(join(dir, "job.json"), JSON.stringify(future));

    const queued = transition(await readJob(dir), "queued", {}, new Date("2026-02-10T14:31:00Z"));
    await writeJob(dir, queued);
    const running = transition(await readJob(dir), "running", {}, new Date("2026-02-10T14:31:05Z"));
    await writeJob(dir, running);
    await writeJob(dir, update(await readJob(dir), { heartbeat_at: "2026-02-10T14:32:00.000Z" }));

    const final = JSON.parse(await readFile(join(dir, "job.json"), "utf8")) as Record<string, unknown>;
    expect(final).toMatchObject({
      x_priority: "high",
      x_nested: { keep: [1, 2, { deep: true }] },
      notify: { on_complete: true, on_fail: true, mention: "@antoine" },
      runner: { host: "nx-ws-01", version: "9.0.0", gpu: "A4000" },
      status: "running",
      seq: 3,
      queued_at: "2026-02-10T14:31:00.000Z",
      started_at: "2026-02-10T14:31:05.000Z",
      heartbeat_at: "2026-02-10T14:32:00.000Z",
    });
    // Every seed field but the status is still there as written.
    const { status: _submitted, notify: _notify, ...seedFields } = seedJob();
    expect(final).toMatchObject(seedFields);
  });

  it("keeps unknown fields inside manifest entries (files[] and results.files[])", async () => {
    const dir = await tempDir();
    const entry = { path: "1_setup/m1.prt", size: 3, sha256: "b".repeat(64), mtime: "2026-02-10T14:00:00Z" };
    const job = {
      ...seedJob(),
      schema_version: 1,
      files: [entry],
      results: {
        files: [{ ...entry, path: "stdout.log" }],
        published_at: "2026-02-10T15:00:00Z",
        host: "nx",
      },
    };
    await writeJob(dir, parseJob(job));
    expect(await readJob(dir)).toStrictEqual(job);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["status", { status: "done" }, "status"],
    ["created_at", { created_at: "10/02/2026" }, "created_at"],
    ["notify", { notify: { on_complete: true } }, "notify.on_fail"],
    ["args", { args: [1] }, "args.0"],
  ])("parseJob refuses a bad %s, naming the field and the source", (_what, patch, field) => {
    let caught: unknown;
    try {
      parseJob({ ...seedJob(), ...patch }, "outbox/job-20260210-143022-wfe/job.json");
    } catch (error) {
      caught = error;
    }
    expect(isProtocolError(caught, "invalid_job")).toBe(true);
    const message = (caught as Error).message;
    expect(message).toContain("outbox/job-20260210-143022-wfe/job.json is not a valid job");
    expect(message).toContain(`${field}: `);
  });

  it("writeJob refuses an invalid job and leaves the old file and no temp file", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "job.json"), SEED_JOB_TEXT);
    const bad = { ...seedJob(), status: "exploded" } as unknown as Job;
    await expect(writeJob(dir, bad)).rejects.toThrow(/status: /);
    expect(await readFile(join(dir, "job.json"), "utf8")).toBe(SEED_JOB_TEXT);
    expect(await readdir(dir)).toEqual(["job.json"]);
  });

  it("readJob names the file when it is not JSON", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "job.json"), '{"job_id": "job-20260210-143022-wfe",');
    await expect(readJob(dir)).rejects.toSatisfy(
      (error: unknown) =>
        isProtocolError(error, "invalid_job") &&
        (error as Error).message.includes(join(dir, "job.json")) &&
        (error as Error).message.includes("is not valid JSON"),
    );
  });

  it("readJob lets a missing job.json through as ENOENT (the caller decides what absence means)", async () => {
    const dir = await tempDir();
    await expect(readJob(dir)).rejects.toSatisfy((error: unknown) => errnoCode(error) === "ENOENT");
  });
});
