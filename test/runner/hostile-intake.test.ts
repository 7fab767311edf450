import { execFileSync } from "node:child_process";
import { mkdir, readdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { FileEntry, Job } from "../../protocol/index.ts";
import { isTerminal, JobSchema, makeJobId, publishDirectory, writeJsonAtomic } from "../../protocol/index.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { buildJobFiles, inboxJob, makeQueue, readText, submittedJob, waitFor } from "./helpers/make-job.ts";
import type { RunningRunner } from "./helpers/runner-harness.ts";
import { startRunner, testConfig } from "./helpers/runner-harness.ts";

/**
 * The runner's hostile corpus: job folders as a broken or malicious submitter (or a damaged sync)
 * could leave them. Every one must end (refused with a reason, or run correctly), once; none may hang
 * the runner, run twice, or read anything outside its folder.
 */
interface Hostile {
  name: string;
  /** Builds the folder; returns job.json content (object, raw text or bytes), or undefined to leave it. */
  make: (dir: string, job: Job, manifest: FileEntry[]) => Promise<unknown>;
  /** Expected end; `schema` means: whatever JobSchema says of the job.json (refused iff invalid). */
  want: { status: "failed"; kind: string; message: string } | { status: "completed" } | "schema";
}

const refused = (kind: string, message: string) => ({ status: "failed" as const, kind, message });
const first = (m: FileEntry[]): FileEntry => m[0] as FileEntry;
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

const FIELDS = [
  "job_id",
  "created_at",
  "created_by",
  "project",
  "channel",
  "type",
  "script",
  "args",
  "status",
  "notify",
  "files",
  "timeout_s",
  "schema_version",
] as const;
const VALUES: [string, unknown][] = [
  ["null", null],
  ["a number", 42],
  ["a negative number", -1],
  ["true", true],
  ["an object", {}],
  ["an array", []],
  ["an empty string", ""],
  ["100 kB of text", "x".repeat(100_000)],
  ["unicode text", "résumé ✓ 机"],
];

const fieldCases: Hostile[] = FIELDS.flatMap((field) =>
  VALUES.map(([label, value]) => ({
    name: `${field} is ${label}`,
    make: async (_dir: string, job: Job) => ({ ...job, [field]: value }),
    want: "schema" as const,
  })),
);

const badUtf8: [string, number[]][] = [
  ["a lone continuation byte", [0x80]],
  ["an overlong NUL", [0xc0, 0x80]],
  ["a UTF-16 surrogate", [0xed, 0xa0, 0x80]],
  ["a cut 3-byte sequence", [0xe2, 0x82]],
  ["a byte never valid", [0xff]],
  ["Latin-1 é", [0xe9]],
];
const utf8Cases: Hostile[] = badUtf8.map(([label, bytes]) => ({
  name: `job.json with ${label} in a string`,
  make: async (_dir, job) => {
    const text = JSON.stringify({ ...job, created_by: "MARK" });
    const [before, after] = text.split("MARK") as [string, string];
    return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);
  },
  want: refused("invalid_job", "is not valid UTF-8"),
}));

const depthCases: Hostile[] = [65, 1_000, 10_000, 200_000].map((depth) => ({
  name: `a field nested ${depth} deep`,
  make: async (_dir, job) => JSON.stringify({ ...job, extra: "DEEP" }).replace('"DEEP"', nested(depth)),
  want: refused("invalid_job", "more than 64 deep"),
}));

const truncatedCases: Hostile[] = [1, 17, 40, 99, 150, 230].map((cut) => ({
  name: `job.json cut after ${cut} bytes`,
  make: async (_dir, job) => JSON.stringify(job).slice(0, cut),
  want: refused("invalid_job", "not valid JSON"),
}));

const manifestCases: Hostile[] = [
  {
    name: "a manifest of 20,001 entries",
    make: async (_dir, job, m) => ({
      ...job,
      files: Array.from({ length: 20_001 }, (_, i) => ({ ...first(m), path: `f/${i}.dat` })),
    }),
    want: refused("invalid_job", "at most 20000 files"),
  },
  {
    name: "a job.json of 17 MB",
    make: async (_dir, job) => ({ ...job, padding: "p".repeat(17 * 1024 * 1024) }),
    want: refused("invalid_job", "a queue JSON file may be at most"),
  },
  {
    name: "a listed path of 5,000 bytes",
    make: async (_dir, job, m) => ({ ...job, files: [...m, { ...first(m), path: `${"d/".repeat(2500)}x` }] }),
    want: refused("rejected", "bytes"),
  },
  {
    name: "a listed name of 300 bytes",
    make: async (_dir, job, m) => ({
      ...job,
      files: [...m, { ...first(m), path: `1_setup/${"n".repeat(300)}` }],
    }),
    want: refused("rejected", "[too_long]"),
  },
  {
    name: "a listed path with a NUL",
    make: async (_dir, job, m) => ({ ...job, files: [...m, { ...first(m), path: "1_setup/a\u0000b" }] }),
    want: refused("rejected", "job files break the path rules"),
  },
  {
    name: "a listed path with a backslash",
    make: async (_dir, job, m) => ({ ...job, files: [...m, { ...first(m), path: "1_setup\\model.prt" }] }),
    want: refused("rejected", "job files break the path rules"),
  },
  {
    name: "a listed name ending in a dot",
    make: async (_dir, job, m) => ({ ...job, files: [...m, { ...first(m), path: "1_setup/model." }] }),
    want: refused("rejected", "job files break the path rules"),
  },
  {
    name: "job.json listing itself",
    make: async (_dir, job, m) => ({ ...job, files: [...m, { ...first(m), path: "job.json" }] }),
    want: refused("rejected", "job.json"),
  },
  {
    name: "a negative size",
    make: async (_dir, job, m) => ({ ...job, files: [{ ...first(m), size: -5 }] }),
    want: refused("invalid_job", "size"),
  },
  {
    name: "a file shorter than its manifest says (never completes)",
    make: async (_dir, job, m) => ({ ...job, files: [{ ...first(m), size: first(m).size + 10 }] }),
    want: refused("incomplete_transfer", "did not all arrive"),
  },
];

const fsCases: Hostile[] = [
  {
    name: "a listed file that is a symlink loop (ELOOP)",
    make: async (dir, job, m) => {
      await symlink("loop-b", path.join(dir, "loop-a"));
      await symlink("loop-a", path.join(dir, "loop-b"));
      return { ...job, files: [...m, { ...first(m), path: "loop-a" }] };
    },
    want: refused("rejected", "links and special files"),
  },
  {
    name: "a listed file through a linked folder to /etc",
    make: async (dir, job, m) => {
      await symlink("/etc", path.join(dir, "1_setup"));
      return { ...job, files: [...m, { path: "1_setup/hostname", size: 1, sha256: "0".repeat(64) }] };
    },
    want: refused("rejected", "links and special files"),
  },
  {
    name: "a listed file that is a dangling link",
    make: async (dir, job, m) => {
      await symlink(path.join(dir, "nowhere"), path.join(dir, "model.prt"));
      return { ...job, files: [...m, { path: "model.prt", size: 1, sha256: "0".repeat(64) }] };
    },
    want: refused("rejected", "links and special files"),
  },
  {
    name: "a listed file that is a FIFO",
    make: async (dir, job, m) => {
      execFileSync("mkfifo", [path.join(dir, "model.prt")]);
      return { ...job, files: [...m, { path: "model.prt", size: 0, sha256: "0".repeat(64) }] };
    },
    want: refused("rejected", "links and special files"),
  },
  {
    name: "job.json that is a FIFO",
    make: async (dir) => {
      execFileSync("mkfifo", [path.join(dir, "job.json")]);
      return undefined;
    },
    want: refused("rejected", "not a regular file"),
  },
];

const CASES: Hostile[] = [
  ...fieldCases,
  ...utf8Cases,
  ...depthCases,
  ...truncatedCases,
  ...manifestCases,
  ...fsCases,
  { name: "a valid job among them", make: async (_dir, job) => job, want: { status: "completed" } },
];

let queue: TestQueue;
let running: RunningRunner;
const ids = new Map<string, { jobId: string; schemaValid: boolean }>();
const counter = () => path.join(queue.scratch, "runs.txt");

beforeAll(async () => {
  queue = await makeQueue();
  const now = new Date(Date.UTC(2026, 5, 1));
  for (const [index, hostile] of CASES.entries()) {
    const jobId = makeJobId(`hostile ${index}`, now);
    const staging = path.join(queue.base, "staging", jobId);
    const spec = { name: "x", fixture: "interleave.py", args: [counter()] };
    const manifest = await buildJobFiles(staging, spec);
    const content = await hostile.make(staging, submittedJob(jobId, spec, manifest, now), manifest);
    const file = path.join(staging, "job.json");
    if (typeof content === "string" || Buffer.isBuffer(content)) await writeFile(file, content);
    else if (content !== undefined) await writeJsonAtomic(file, content);
    const schemaValid = typeof content === "object" && JobSchema.safeParse(content).success;
    await publishDirectory(staging, path.join(queue.paths.outbox, jobId));
    ids.set(hostile.name, { jobId, schemaValid });
  }
  running = await startRunner(testConfig(queue, "python3", { graceS: 3, settleS: 1, slots: 2 }));
  await waitFor(
    "every hostile job to end",
    async () => {
      for (const { jobId } of ids.values()) {
        const job = await inboxJob(queue, jobId);
        if (!job || !isTerminal(job.status)) return undefined;
      }
      return true;
    },
    120_000,
  );
}, 180_000);

afterAll(async () => {
  await running?.stop();
  await queue.cleanup();
});

test.each(CASES)("$name: ends once, as it should", async (hostile) => {
  const { jobId, schemaValid } = ids.get(hostile.name) ?? { jobId: "", schemaValid: false };
  const job = await inboxJob(queue, jobId);
  expect(job && isTerminal(job.status), `${jobId} ended`).toBe(true);
  const runs = (await readText(counter())).split("\n").filter((line) => line === jobId);
  expect(runs.length, "runs of this job").toBeLessThanOrEqual(1);
  if (hostile.want === "schema") {
    if (!schemaValid) {
      expect(job).toMatchObject({ status: "failed", error: { kind: "invalid_job" } });
      expect(job?.error?.message).toContain(hostile.name.split(" ")[0]);
    }
    return;
  }
  if (hostile.want.status === "completed") {
    expect(job).toMatchObject({ status: "completed" });
    expect(runs.length).toBe(1);
    return;
  }
  expect(job).toMatchObject({ status: "failed", error: { kind: hostile.want.kind } });
  expect(job?.error?.message).toContain(hostile.want.message);
  expect(runs.length).toBe(0);
});

test("nothing outside a job folder was copied into the work folder", async () => {
  const linked = ids.get("a listed file through a linked folder to /etc")?.jobId ?? "";
  const entries = await readdir(queue.work).catch(() => [] as string[]);
  if (entries.includes(linked)) expect(await readdir(path.join(queue.work, linked))).not.toContain("1_setup");
  await mkdir(queue.work, { recursive: true });
});
