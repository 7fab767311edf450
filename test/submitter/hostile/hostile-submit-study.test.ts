// Hostile corpus, submitting side, the study: a file swapped for a link while submit_job copies it (this
// once shipped a file from outside --allow into outbox/, 5 of 5 times), special files and bad JSON.
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { mkfifo, nested, POSIX } from "../../helpers/hostile-fs.ts";
import { REAL, useStudyQueue } from "./helpers/study-queue.ts";

const setup = useStudyQueue();

async function shippedTexts(): Promise<string[]> {
  const texts: string[] = [];
  for (const id of await readdir(setup.queue.outbox)) {
    if (!id.startsWith("job-")) continue;
    for (const name of await readdir(join(setup.queue.outbox, id), { recursive: true })) {
      texts.push(await readFile(join(setup.queue.outbox, id, name), "utf8").catch(() => ""));
    }
  }
  return texts;
}

describe.skipIf(!POSIX)("a study file swapped for a link while submit_job runs", () => {
  test("never ships the link's target: each submission ships the real file or is refused clearly", async () => {
    const dir = await setup.study();
    const target = join(dir, "1_setup", "model.prt");
    const stash = join(setup.base, "stash");
    await mkdir(stash, { recursive: true });
    let stop = false;
    let swaps = 0;
    // Atomic renames, as fast as the event loop allows: link in, real file back, again and again.
    const swapper = (async () => {
      while (!stop) {
        await rm(join(stash, "link"), { force: true });
        await symlink(setup.secretFile, join(stash, "link"));
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
          setup.ctx,
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
      async (dir: string) => symlink(setup.secretFile, join(dir, "1_setup", "key")),
      /key is a symlink to .*outside study_dir/,
    ],
  ])(
    "%s",
    async (_label, prepare, message) => {
      const dir = await setup.study();
      await prepare(dir);
      const before = (await shippedTexts()).length;
      await expect(
        submitJob(setup.ctx, { study_dir: dir, name: "hostile study", project: "hostile" }, "tester"),
      ).rejects.toThrow(message);
      expect((await shippedTexts()).length).toBe(before);
    },
    10_000,
  );
});
