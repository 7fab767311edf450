import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { readJob, verifyManifest } from "../../../protocol/index.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { sampleJobFields } from "../../helpers/sample-job.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";

let base: string;
let queue: QueuePaths;
let ctx: ServerContext;
let outside: string;

const SPEC = {
  meta: { version: "2.1", study_name: "m1_wfe" },
  model: { part: "1_setup/m1.prt" },
  design_variables: [],
  extractors: [],
  objectives: [],
  optimization: {},
};

async function study(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(base, "study-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, ...path.split("/").slice(0, -1)), { recursive: true });
    await writeFile(join(dir, ...path.split("/")), content);
  }
  return dir;
}

const GOOD = {
  "run_optimization.py": "from pathlib import Path\nHERE = Path(__file__).parent\nprint(HERE / '1_setup')\n",
  "atomizer_spec.json": JSON.stringify(SPEC),
  "1_setup/m1.prt": "part",
};

beforeAll(async () => {
  ({ base, queue } = await makeQueue());
  outside = await mkdtemp(join(tmpdir(), "atomizer-outside-"));
  await writeFile(join(outside, "id_rsa"), "secret");
  ctx = await createServerContext({ queueRoot: queue.root, allow: [base], withIndex: false });
});

afterAll(async () => {
  await ctx.close();
  await rm(base, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

beforeEach(async () => {
  for (const name of await readdir(queue.outbox)) {
    if (name.startsWith("job-")) await rm(join(queue.outbox, name), { recursive: true });
  }
});

async function published(): Promise<string[]> {
  return (await readdir(queue.outbox)).filter((name) => name.startsWith("job-"));
}

describe("submitJob refuses, publishing nothing", () => {
  test.each([
    [
      "an absolute Windows path in the script",
      { ...GOOD, "run_optimization.py": 'import os\nMODEL = "C:\\\\Atomizer\\\\m1.prt"\n' },
      /run_optimization\.py:2: absolute Windows path/,
    ],
    [
      "an absolute Linux path in the spec",
      {
        ...GOOD,
        "atomizer_spec.json": JSON.stringify({ ...SPEC, model: { part: "/home/antoine/m1.prt" } }, null, 1),
      },
      /atomizer_spec\.json:\d+: absolute Linux path "\/home\/antoine\/m1\.prt"/,
    ],
    [
      "an absolute Linux path in a module the script imports",
      { ...GOOD, "wfe_model.py": 'MESH = "/home/antoine/m1.fem"\n' },
      /wfe_model\.py:1: absolute Linux path "\/home\/antoine\/m1\.fem"/,
    ],
    [
      "a UNC path in the script",
      { ...GOOD, "run_optimization.py": 'SHARE = r"\\\\fileserver\\models"\n' },
      /absolute network \(UNC\) path/,
    ],
    [
      "a spec without the v2 keys",
      { ...GOOD, "atomizer_spec.json": JSON.stringify({ meta: { version: "1.0", study_name: "x" } }) },
      /lacks AtomizerSpec v2 top-level keys: model, design_variables.*\n.*meta.version must be "2.x"/s,
    ],
    [
      "a spec that is not JSON",
      { ...GOOD, "atomizer_spec.json": "{ nope" },
      /atomizer_spec.json is not valid JSON/,
    ],
    [
      "a missing script",
      { "atomizer_spec.json": JSON.stringify(SPEC) },
      /script run_optimization.py is not in/,
    ],
    ["a Windows reserved name", { ...GOOD, "1_setup/aux.prt": "x" }, /reserved on Windows \(AUX\)/],
    ["a character Windows refuses", { ...GOOD, "notes?.txt": "x" }, /"\?", which Windows refuses/],
    ["a job.json of its own", { ...GOOD, "job.json": "{}" }, /job.json at the job root/],
    ["names differing only in case", { ...GOOD, "1_setup/M1.prt": "x" }, /only in case/],
  ])("%s", async (_label, files, message) => {
    const dir = await study(files);
    await expect(
      submitJob(ctx, { study_dir: dir, name: "mirror wfe check", project: "starspec" }, "tester"),
    ).rejects.toThrow(message);
    expect(await published()).toEqual([]);
    expect(await readdir(ctx.stagingDir).catch(() => [])).toEqual([]);
  });

  test("a symlink pointing outside the study", async () => {
    const dir = await study(GOOD);
    await symlink(join(outside, "id_rsa"), join(dir, "key"));
    await expect(
      submitJob(ctx, { study_dir: dir, name: "mirror wfe link", project: "starspec" }, "tester"),
    ).rejects.toThrow(/key is a symlink to .*outside study_dir/);
    expect(await published()).toEqual([]);
  });

  test("a study that really lies outside the allowed roots, even through a link", async () => {
    const link = join(base, "innocent-looking");
    await symlink(outside, link);
    await expect(
      submitJob(ctx, { study_dir: link, name: "mirror wfe escape", project: "starspec" }, "tester"),
    ).rejects.toThrow(/outside the folders this server may read/);
  });

  test("a generic name (SYS_19 rule 3)", async () => {
    const dir = await study(GOOD);
    await expect(
      submitJob(ctx, { study_dir: dir, name: "job-1", project: "starspec" }, "tester"),
    ).rejects.toThrow(/not descriptive/);
  });
});

describe("submitJob publishes", () => {
  test("a verified job with a generated README, skipping junk, following inside links", async () => {
    const dir = await study({ ...GOOD, "__pycache__/x.pyc": "junk", ".DS_Store": "junk" });
    await symlink(join(dir, "1_setup", "m1.prt"), join(dir, "1_setup", "m1-link.prt"));
    const result = await submitJob(
      ctx,
      {
        study_dir: dir,
        name: "StarSpec M1 WFE sweep",
        project: "starspec-m1-wfe",
        args: ["--start"],
        timeout_s: 3600,
      },
      "study-builder",
    );
    expect(result).toMatchObject({ readme: "generated", existing: false, status: "submitted" });
    expect(result.skipped.sort()).toEqual([".DS_Store", "__pycache__"]);
    const jobDir = join(queue.outbox, result.job_id);
    const job = await readJob(jobDir);
    expect(job).toMatchObject({
      ...sampleJobFields(),
      job_id: result.job_id,
      args: ["--start"],
      timeout_s: 3600,
    });
    expect(job.files?.map((file) => file.path)).toEqual([
      "1_setup/m1-link.prt",
      "1_setup/m1.prt",
      "README.md",
      "atomizer_spec.json",
      "run_optimization.py",
    ]);
    expect((await verifyManifest(jobDir, job.files ?? [])).complete).toBe(true);
    const readme = await readFile(join(jobDir, "README.md"), "utf8");
    expect(readme).toContain("starspec-m1-wfe");
    expect(readme).toContain("run_optimization.py --start");
    expect(readme).toContain("1_setup/m1.prt");
  });

  test("the readme text when the study has none", async () => {
    const dir = await study(GOOD);
    const result = await submitJob(
      ctx,
      { study_dir: dir, name: "mirror readme text", project: "starspec", readme: "# Mirror\nSweep ribs." },
      "a",
    );
    expect(result.readme).toBe("from_text");
    expect(await readFile(join(queue.outbox, result.job_id, "README.md"), "utf8")).toBe(
      "# Mirror\nSweep ribs.\n",
    );
  });

  test("one job per idempotency key; the same key with other content is refused", async () => {
    const dir = await study(GOOD);
    const args = {
      study_dir: dir,
      name: "mirror idempotent",
      project: "starspec",
      idempotency_key: "builder-42",
    };
    const [first, second] = await Promise.all([submitJob(ctx, args, "a"), submitJob(ctx, args, "a")]);
    expect(second?.job_id).toBe(first?.job_id);
    expect([first?.existing, second?.existing].sort()).toEqual([false, true]);
    expect(await published()).toHaveLength(1);
    await writeFile(join(dir, "1_setup", "m1.prt"), "changed part");
    await expect(submitJob(ctx, args, "a")).rejects.toThrow(/already used for .* with different content/);
    expect(await published()).toHaveLength(1);
  });

  test("two submissions of one name in the same second get distinct ids", async () => {
    const dir = await study(GOOD);
    const fixed = new Date("2026-02-10T14:30:22Z");
    const clock = { ...ctx, now: () => fixed };
    const a = await submitJob(clock, { study_dir: dir, name: "starspec wfe", project: "starspec" }, "a");
    const b = await submitJob(clock, { study_dir: dir, name: "starspec wfe", project: "starspec" }, "a");
    expect(a.job_id).toBe("job-20260210-143022-starspec-wfe");
    expect(b.job_id).toBe("job-20260210-143022-starspec-wfe-2");
  });
});
