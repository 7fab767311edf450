// One queue for the hostile submit tests of a file: an --allow folder with a secret file beside it
// (outside --allow, what a swapped-in link points at), a submitting-side context, and small valid studies.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import type { QueuePaths } from "../../../../protocol/index.ts";
import type { ServerContext } from "../../../../submitter/context.ts";
import { createServerContext } from "../../../../submitter/context.ts";
import { makeQueue } from "../../fixtures/runner-fixture.ts";

const SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- secret-outside-allow\n";
/** The model file every study() ships. */
export const REAL = "the real model\n";
const SPEC = JSON.stringify({
  meta: { version: "2.0", study_name: "m1" },
  model: {},
  design_variables: [],
  extractors: [],
  objectives: [],
  optimization: {},
});

export interface StudyQueue {
  readonly base: string;
  readonly queue: QueuePaths;
  readonly ctx: ServerContext;
  /** The one --allow folder; study() makes its studies here. */
  readonly allowed: string;
  readonly secretFile: string;
  /** A fresh valid study under --allow, with `extra` files (study-relative paths) added. */
  study(extra?: Record<string, string>): Promise<string>;
}

/** Makes the queue before the calling file's tests and removes it after them. */
export function useStudyQueue(): StudyQueue {
  let made: { base: string; queue: QueuePaths; allowed: string; secretFile: string } | undefined;
  let ctx: ServerContext | undefined;
  const get = () => {
    if (!made || !ctx) throw new Error("the study queue exists only while the file's tests run");
    return { ...made, ctx };
  };

  beforeAll(async () => {
    const { base, queue } = await makeQueue();
    const allowed = join(base, "studies");
    await mkdir(allowed);
    const secretFile = join(base, "id_rsa");
    await writeFile(secretFile, SECRET);
    made = { base, queue, allowed, secretFile };
    ctx = await createServerContext({ queueRoot: queue.root, allow: [allowed], withIndex: false });
  });

  afterAll(async () => {
    await ctx?.close();
    if (made) await rm(made.base, { recursive: true, force: true });
  });

  return {
    get base() {
      return get().base;
    },
    get queue() {
      return get().queue;
    },
    get ctx() {
      return get().ctx;
    },
    get allowed() {
      return get().allowed;
    },
    get secretFile() {
      return get().secretFile;
    },
    async study(extra = {}) {
      const dir = await mkdtemp(join(get().allowed, "study-"));
      await mkdir(join(dir, "1_setup"));
      await writeFile(join(dir, "run_optimization.py"), "print('hi')\n");
      await writeFile(join(dir, "atomizer_spec.json"), SPEC);
      await writeFile(join(dir, "1_setup", "model.prt"), REAL);
      for (const [path, text] of Object.entries(extra)) await writeFile(join(dir, ...path.split("/")), text);
      return dir;
    },
  };
}
