// Where the index lives: the per-user state folder (or the one named), one file per queue whatever
// path reaches it, and never inside a synced folder or a queue.
import { existsSync } from "node:fs";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, resolve, win32 } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  defaultStateDir,
  indexFileFor,
  prepareStateDir,
  STATE_DIR_ENV,
} from "../../../submitter/catalog/index-location.ts";
import { indexPathFor } from "../../../submitter/catalog/open-catalog.ts";
import { makeQueue } from "../fixtures/runner-fixture.ts";

let base: string;
let queueRoot: string;

beforeAll(async () => {
  const made = await makeQueue();
  base = made.base;
  queueRoot = made.queue.root;
});

afterAll(() => rm(base, { recursive: true, force: true }));

describe("defaultStateDir", () => {
  test.each<[string, NodeJS.ProcessEnv, NodeJS.Platform, string]>([
    [
      "the environment variable first",
      { [STATE_DIR_ENV]: "/srv/state", XDG_STATE_HOME: "/x" },
      "linux",
      "/srv/state",
    ],
    ["a relative variable, resolved", { [STATE_DIR_ENV]: "rel/state" }, "linux", resolve("rel/state")],
    ["XDG_STATE_HOME on Linux", { XDG_STATE_HOME: "/xdg" }, "linux", "/xdg/atomizer-jobs"],
    ["~/.local/state without it", {}, "linux", join(homedir(), ".local", "state", "atomizer-jobs")],
    [
      "an empty XDG_STATE_HOME is none",
      { XDG_STATE_HOME: "" },
      "linux",
      join(homedir(), ".local", "state", "atomizer-jobs"),
    ],
    [
      "LOCALAPPDATA on Windows",
      { LOCALAPPDATA: "C:\\Users\\a\\AppData\\Local" },
      "win32",
      "C:\\Users\\a\\AppData\\Local\\atomizer-jobs",
    ],
    [
      "AppData\\Local under home without it",
      {},
      "win32",
      win32.join(homedir(), "AppData", "Local", "atomizer-jobs"),
    ],
  ])("%s", (_what, env, platform, expected) => {
    expect(defaultStateDir(env, platform)).toBe(expected);
  });
});

describe("indexFileFor", () => {
  test("one file per queue, the same by any path to it, another for another queue", async () => {
    const state = join(base, "state");
    const file = await indexFileFor(state, queueRoot);
    expect(file).toMatch(
      new RegExp(`^${state.replace(/[/\\]/g, "[/\\\\]")}[/\\\\]index-[0-9a-f]{16}\\.sqlite$`),
    );
    const link = join(base, "queue-link");
    await symlink(queueRoot, link);
    expect(await indexFileFor(state, link)).toBe(file);
    expect(await indexFileFor(state, `${queueRoot}/`)).toBe(file);
    expect(await indexFileFor(state, join(base, "other-queue"))).not.toBe(file);
  });
});

describe("prepareStateDir", () => {
  test("makes a local folder", async () => {
    const dir = join(base, "local", "state");
    await prepareStateDir(dir);
    expect(existsSync(dir)).toBe(true);
  });

  test.each<[string, (root: string) => Promise<string>]>([
    ["inside the queue", async () => join(queueRoot, "state")],
    ["the queue itself", async () => queueRoot],
    [
      "inside a folder Syncthing shares (.stfolder)",
      async (root) => {
        const shared = await mkdtemp(join(root, "shared-"));
        await writeFile(join(shared, ".stfolder"), "");
        return join(shared, "deep", "state");
      },
    ],
  ])("refuses a folder %s, naming --state and the variable, and makes nothing", async (_what, pick) => {
    const dir = await pick(base);
    const made = existsSync(dir);
    await expect(prepareStateDir(dir)).rejects.toThrow(/--state DIR.*ATOMIZER_STATE_DIR/);
    expect(existsSync(dir)).toBe(made);
  });

  test("openCatalog's path refuses it too, and keeps ':memory:' apart", async () => {
    await expect(indexPathFor(queueRoot, join(queueRoot, ".state", "index"))).rejects.toThrow(
      /synced folder or a queue/,
    );
    expect(await indexPathFor(queueRoot, ":memory:")).toBe(":memory:");
  });
});

test("the tests' own processes keep their index in the temporary state folder", () => {
  const dir = process.env[STATE_DIR_ENV];
  expect(dir).toBeDefined();
  expect(resolve(dir as string).startsWith(resolve(tmpdir()))).toBe(true);
});
