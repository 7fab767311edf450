// Hostile corpus, submitting side: a study file swapped for a link while submit_job copies it (this
// once shipped a file from outside --allow into outbox/, 5 of 5 times), special files and bad JSON in
// a study, and .staging/ leftovers of killed submits (once 37 folders, 1.7 GB, surviving restarts).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import {
  cleanStaleStaging,
  hostTag,
  processStartMs,
  STALE_STAGING_MS,
  stagingName,
} from "../../../submitter/jobs/staging-dirs.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { REPO } from "../../helpers/atomizer-jobs.ts";
import { mkfifo, nested, POSIX } from "../../helpers/hostile-fs.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";

const SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- secret-outside-allow\n";
const REAL = "the real model\n";
const SPEC = JSON.stringify({
  meta: { version: "2.0", study_name: "m1" },
  model: {},
  design_variables: [],
  extractors: [],
  objectives: [],
  optimization: {},
});

let base: string;
let queue: QueuePaths;
let ctx: ServerContext;
let allowed: string;
let secretFile: string;

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  allowed = join(base, "studies");
  await mkdir(allowed);
  secretFile = join(base, "id_rsa");
  await writeFile(secretFile, SECRET);
  ctx = await createServerContext({ queueRoot: queue.root, allow: [allowed], withIndex: false });
});

afterAll(async () => {
  await ctx?.close();
  await rm(base, { recursive: true, force: true });
});

async function study(extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(allowed, "study-"));
  await mkdir(join(dir, "1_setup"));
  await writeFile(join(dir, "run_optimization.py"), "print('hi')\n");
  await writeFile(join(dir, "atomizer_spec.json"), SPEC);
  await writeFile(join(dir, "1_setup", "model.prt"), REAL);
  for (const [path, text] of Object.entries(extra)) await writeFile(join(dir, ...path.split("/")), text);
  return dir;
}

async function shippedTexts(): Promise<string[]> {
  const texts: string[] = [];
  for (const id of await readdir(queue.outbox)) {
    if (!id.startsWith("job-")) continue;
    for (const name of await readdir(join(queue.outbox, id), { recursive: true })) {
      texts.push(await readFile(join(queue.outbox, id, name), "utf8").catch(() => ""));
    }
  }
  return texts;
}

describe.skipIf(!POSIX)("a study file swapped for a link while submit_job runs", () => {
  test("never ships the link's target: each submission ships the real file or is refused clearly", async () => {
    const dir = await study();
    const target = join(dir, "1_setup", "model.prt");
    const stash = join(base, "stash");
    await mkdir(stash, { recursive: true });
    let stop = false;
    let swaps = 0;
    // Atomic renames, as fast as the event loop allows: link in, real file back, again and again.
    const swapper = (async () => {
      while (!stop) {
        await rm(join(stash, "link"), { force: true });
        await symlink(secretFile, join(stash, "link"));
        await rename(join(stash, "link"), target);
        await writeFile(join(stash, "real"), REAL);
        await rename(join(stash, "real"), target);
        swaps++;
      }
    })();
    const outcomes: string[] = [];
    for (let i = 0; i < 40; i++) {
      try {
        await submitJob(
          ctx,
          {
            study_dir: dir,
            name: `swap race ${"abcdefghijklmnopqrstuvwxyzabcdefghijklmn"[i]}`,
            project: "race",
          },
          "tester",
        );
        outcomes.push("shipped");
      } catch (error) {
        const message = (error as Error).message;
        expect(message).toMatch(
          /outside study_dir|changed while it was being copied|broken symlink|symbolic link/,
        );
        expect(message).toMatch(/nothing was published|copy the file into the study/);
        outcomes.push(message.includes("changed while") ? "refused-at-copy" : "refused");
      }
    }
    stop = true;
    await swapper;
    expect(swaps).toBeGreaterThan(10);
    expect(outcomes).toHaveLength(40);
    const texts = await shippedTexts();
    expect(texts.join("\n")).not.toContain("secret-outside-allow");
    // What was shipped is the real model, complete.
    expect(texts.filter((text) => text === REAL).length).toBe(outcomes.filter((o) => o === "shipped").length);
  }, 30_000);
});

describe.skipIf(!POSIX)("special files and bad JSON in a study are refused before anything is copied", () => {
  test.each([
    [
      "a FIFO in 1_setup/",
      async (dir: string) => mkfifo(join(dir, "1_setup", "pipe.dat")),
      /pipe\.dat is not a regular file \(socket, device or pipe\)/,
    ],
    [
      "a FIFO as the script",
      async (dir: string) => {
        await rm(join(dir, "run_optimization.py"));
        mkfifo(join(dir, "run_optimization.py"));
      },
      /run_optimization\.py is not a regular file/,
    ],
    [
      "a 10,000-deep atomizer_spec.json",
      async (dir: string) =>
        writeFile(join(dir, "atomizer_spec.json"), `{"meta":${nested(10_000, "array")}}`),
      /atomizer_spec\.json nests objects or arrays more than 64 deep/,
    ],
    [
      "an atomizer_spec.json in Latin-1",
      async (dir: string) =>
        writeFile(join(dir, "atomizer_spec.json"), Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d])),
      /atomizer_spec\.json is not valid UTF-8/,
    ],
    [
      "a link to a file outside --allow",
      async (dir: string) => symlink(secretFile, join(dir, "1_setup", "key")),
      /key is a symlink to .*outside study_dir/,
    ],
  ])(
    "%s",
    async (_label, prepare, message) => {
      const dir = await study();
      await prepare(dir);
      const before = (await shippedTexts()).length;
      await expect(
        submitJob(ctx, { study_dir: dir, name: "hostile study", project: "hostile" }, "tester"),
      ).rejects.toThrow(message);
      expect((await shippedTexts()).length).toBe(before);
    },
    10_000,
  );
});

/** A pid that provably is not alive: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await once(child, "exit");
  return child.pid as number;
}

function nameWith(kind: "submit" | "archive" | "trash", host: string, pid: number, startMs: number): string {
  return `${kind}-${host}-${pid}-${startMs.toString(36)}-${"ab12".repeat(3)}`;
}

describe(".staging/ leftovers: only provably abandoned folders go", () => {
  const OLD = (Date.now() - STALE_STAGING_MS - 3600_000) / 1000;
  type Case = [
    string,
    (dead: number) => string,
    { old?: boolean; link?: boolean; file?: boolean },
    "removed" | "kept",
  ];
  const cases: Case[] = [
    ["a dead process's submit on this host", (dead) => nameWith("submit", hostTag(), dead, 1), {}, "removed"],
    ["a dead process's archive copy", (dead) => nameWith("archive", hostTag(), dead, 1), {}, "removed"],
    [
      "a dead process's trash (half-removed outbox entry)",
      (dead) => nameWith("trash", hostTag(), dead, 1),
      {},
      "removed",
    ],
    [
      "a live process's submit (the test runner's parent)",
      () => nameWith("submit", hostTag(), process.ppid, 1),
      {},
      "kept",
    ],
    ["this process's own folder", () => stagingName("submit", "mine"), {}, "kept"],
    [
      "an earlier process with this pid (a container restart)",
      () => nameWith("submit", hostTag(), process.pid, processStartMs() - 3600_000),
      {},
      "removed",
    ],
    [
      "another host's folder with a dead-looking pid, fresh",
      (dead) => nameWith("submit", "0badc0de", dead, 1),
      {},
      "kept",
    ],
    [
      "another host's folder, over a day old",
      (dead) => nameWith("submit", "0badc0de", dead, 1),
      { old: true },
      "removed",
    ],
    ["a folder named before owners were recorded, fresh", () => "submit-mirror-wfe-0123456789ab", {}, "kept"],
    [
      "a folder named before owners were recorded, over a day old",
      () => "submit-mirror-wfe-0123456789ab",
      { old: true },
      "removed",
    ],
    [
      "a live process's folder over a day old (no submit takes a day)",
      () => nameWith("submit", hostTag(), process.ppid, 1),
      { old: true },
      "removed",
    ],
    [
      "a stray file of a dead process",
      (dead) => nameWith("submit", hostTag(), dead, 1),
      { file: true },
      "removed",
    ],
    [
      "a link of a dead process's name: the link goes, its target stays",
      (dead) => nameWith("submit", hostTag(), dead, 1),
      { link: true },
      "removed",
    ],
  ];

  test.each(cases)("%s: %s", async (_label, name, shape, expected) => {
    const staging = await mkdtemp(join(base, "staging-"));
    const target = join(base, `target-${Math.random().toString(36).slice(2)}`);
    await mkdir(target);
    await writeFile(join(target, "keep.txt"), "keep");
    const entry = join(staging, name(await deadPid()));
    if (shape.link) await symlink(target, entry);
    else if (shape.file) await writeFile(entry, "x");
    else {
      await mkdir(join(entry, "1_setup"), { recursive: true });
      await writeFile(join(entry, "1_setup", "model.prt"), "partial copy");
    }
    if (shape.old) await utimes(entry, OLD, OLD);
    const result = await cleanStaleStaging(staging);
    expect(await readdir(staging)).toEqual(
      expected === "removed" ? [] : [join(entry).slice(staging.length + 1)],
    );
    expect(result[expected]).toHaveLength(1);
    expect(await readFile(join(target, "keep.txt"), "utf8")).toBe("keep");
  });

  test("a missing .staging/ is no error", async () => {
    expect(await cleanStaleStaging(join(base, "no-such-staging"))).toEqual({ removed: [], kept: [] });
  });

  test("folders of a SIGKILLed submitter are removed when the next server starts", async () => {
    // A real process makes real staging folders through the server's own code, then is killed.
    const script = `
      import { makeStagingDir } from "./submitter/jobs/staging-dirs.ts";
      for (let i = 0; i < 3; i++) await makeStagingDir(${JSON.stringify(ctx.stagingDir)}, "submit", "killed");
      process.kill(process.pid, "SIGKILL");`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: REPO,
      stdio: "ignore",
    });
    await once(child, "exit");
    const left = (await readdir(ctx.stagingDir)).filter((name) => name.includes(`-${child.pid}-`));
    expect(left).toHaveLength(3);
    const live = join(ctx.stagingDir, nameWith("submit", hostTag(), process.ppid, 1));
    await mkdir(live);
    const next = await createServerContext({ queueRoot: queue.root, allow: [allowed], withIndex: false });
    await next.close();
    const after = await readdir(ctx.stagingDir);
    expect(after.filter((name) => name.includes(`-${child.pid}-`))).toEqual([]);
    expect(after).toContain(join(live).slice(ctx.stagingDir.length + 1));
    await rm(live, { recursive: true });
  });

  test("a failed submission cleans abandoned staging (a full disk needs the room)", async () => {
    const leftover = join(ctx.stagingDir, nameWith("submit", hostTag(), await deadPid(), 1));
    await mkdir(leftover, { recursive: true });
    const dir = await study();
    const args = { study_dir: dir, name: "idempotent study", project: "hostile", idempotency_key: "k-1" };
    await submitJob(ctx, args, "tester");
    await writeFile(join(dir, "1_setup", "model.prt"), "changed\n");
    await expect(submitJob(ctx, args, "tester")).rejects.toThrow(/already used/);
    expect(await readdir(ctx.stagingDir)).toEqual([]);
  });
});
