// The job index seen from real stdio MCP server processes: a finished job rewritten while every server
// was down is reported as the file says by job_status and list_jobs; two servers on one state folder
// share cursors, which also continue after a restart; the state folder is the one --state names (and
// nothing lands in $HOME), and one inside the queue or a synced folder is refused, saying how to fix it.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { indexFileFor } from "../../../submitter/catalog/index-location.ts";
import { runAtomizerJobs } from "../../helpers/atomizer-jobs.ts";
import type { KnownQueue } from "../fixtures/generated-queue.ts";
import { generateKnownQueue } from "../fixtures/generated-queue.ts";
import { eventually, startIndexServer } from "../fixtures/index-servers.ts";
import { removeEverywhere, rewriteFinal, submitCopy } from "../fixtures/queue-changes.ts";

const JOBS = 30;

let base: string;
let generated: KnownQueue;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "atomizer-stdio-index-"));
  generated = await generateKnownQueue(join(base, "queue"), JOBS, "idle");
});

afterAll(() => rm(base, { recursive: true, force: true }));

const idsIn = (state: string) => generated.ids.filter((id) => generated.states.get(id) === state);
const start = (stateDir: string, env?: Record<string, string>) =>
  startIndexServer(generated.paths, base, stateDir, env);

test("a finished job rewritten while the server was down: job_status and list_jobs say what the file says", async () => {
  const stateDir = join(base, "state-rewrite");
  const target = idsIn("completed")[0] as string;
  const first = await start(stateDir);
  expect((await first.listJobs()).jobs.find((job) => job.job_id === target)?.state).toBe("completed");
  await first.stop();

  // By rename, as the runner writes: inbox/ itself does not change, the job is not live.
  await rewriteFinal(generated.paths, target, "failed");
  const second = await start(stateDir);
  try {
    expect(await second.stateOf(target)).toBe("failed");
    const page = await second.listJobs();
    expect(page.jobs.find((job) => job.job_id === target)?.state).toBe("failed");
    expect(
      (await second.listJobs({ status: ["completed"], limit: 200 })).jobs.map((job) => job.job_id),
    ).not.toContain(target);
    expect(
      (await second.listJobs({ status: ["failed"], limit: 200 })).jobs.map((job) => job.job_id),
    ).toContain(target);
  } finally {
    await second.stop();
    await rewriteFinal(generated.paths, target, "completed");
  }
});

describe("two servers on one state folder", () => {
  const stateDir = () => join(base, "state-shared");

  test("a cursor from one continues in the other, and in a server started after both stopped", async () => {
    const [a, b] = await Promise.all([start(stateDir()), start(stateDir())]);
    let cursor: string;
    const added = "job-20270103-000000-cursor-added";
    try {
      const before = await a.listJobs();
      expect(before.total).toBe(JOBS);
      await submitCopy(generated.paths, idsIn("completed")[0] as string, added, "2027-01-03T00:00:00Z");
      const changed = await eventually(
        "the other server to list the new submission",
        () => b.listJobs({ changed_since: before.cursor }),
        (answer) => answer.jobs.length > 0,
      );
      expect(changed).toMatchObject({ full_listing: false, removed: [], total: 1 });
      expect(changed.jobs.map((job) => [job.job_id, job.state])).toEqual([[added, "submitted"]]);
      expect(changed.note).toBeUndefined();
      // Both answer from one index: the same cursor now.
      expect((await a.listJobs({ changed_since: changed.cursor })).cursor).toBe(changed.cursor);
      cursor = changed.cursor;
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }

    const gone = idsIn("failed")[0] as string;
    await removeEverywhere(generated.paths, gone);
    const c = await start(stateDir());
    try {
      const later = await c.listJobs({ changed_since: cursor });
      expect(later).toMatchObject({ full_listing: false, removed: [gone], jobs: [], total: 0 });
      expect(later.note).toBeUndefined();
      expect((await c.listJobs()).total).toBe(JOBS);
    } finally {
      await c.stop();
    }
  });
});

describe("the state folder", () => {
  test("--state DIR holds the index, and nothing is made in $HOME", async () => {
    const stateDir = join(base, "state-named");
    const home = await mkdtemp(join(base, "home-"));
    const server = await start(stateDir, {
      HOME: home,
      USERPROFILE: home,
      ATOMIZER_STATE_DIR: "",
      XDG_STATE_HOME: "",
    });
    try {
      expect((await server.listJobs()).total).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
    expect(existsSync(await indexFileFor(stateDir, generated.paths.root))).toBe(true);
    expect(existsSync(join(home, ".local", "state", "atomizer-jobs"))).toBe(false);
    expect(await readdir(home)).toEqual([]);
  });

  test("ATOMIZER_STATE_DIR holds it when --state is not given", async () => {
    const stateDir = join(base, "state-env");
    const result = await runAtomizerJobs(["list", "--queue", generated.paths.root, "--json"], {
      env: { ...process.env, ATOMIZER_STATE_DIR: stateDir },
    });
    expect(result.code).toBe(0);
    expect(existsSync(await indexFileFor(stateDir, generated.paths.root))).toBe(true);
  });

  test.each<[string, () => Promise<{ args: string[]; env: Record<string, string> }>]>([
    [
      "--state inside the queue",
      async () => ({ args: ["--state", join(generated.paths.root, "index")], env: {} }),
    ],
    [
      "ATOMIZER_STATE_DIR inside the queue",
      async () => ({ args: [], env: { ATOMIZER_STATE_DIR: join(generated.paths.inbox, "x") } }),
    ],
    [
      "--state inside a folder Syncthing shares",
      async () => {
        const shared = join(base, "synced");
        await mkdir(shared, { recursive: true });
        await writeFile(join(shared, ".stfolder"), "");
        return { args: ["--state", join(shared, "state")], env: {} };
      },
    ],
  ])("%s is refused: the server does not start and says how to fix it", async (_what, setup) => {
    const { args, env } = await setup();
    const result = await runAtomizerJobs(["mcp", "--queue", generated.paths.root, "--allow", base, ...args], {
      env: { ...process.env, ...env },
      timeoutMs: 30_000,
    });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toMatch(/synced folder or a queue/);
    expect(result.stderr).toMatch(/--state DIR \(or set ATOMIZER_STATE_DIR\)/);
  });
});
