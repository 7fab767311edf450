import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { basename, join, win32 } from "node:path";
import { describe, expect, it } from "vitest";
import { tempPathFor } from "../../protocol/atomic-fs.ts";
import {
  ATOMIC_TEMP_PREFIX,
  ATOMIC_TEMP_SUFFIX,
  checkQueueLayout,
  FOLDER_WRITERS,
  initQueue,
  JOB_ENV,
  JOB_FILE,
  LOG_FILE,
  PROGRESS_FILE,
  queuePaths,
  RESULTS_DIR,
  STIGNORE_LINES,
  STUDY_DB,
} from "../../protocol/queue-layout.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("queue-layout");
const FOLDERS = ["outbox", "inbox", "archive"] as const;

describe("initQueue", () => {
  it("creates outbox/, inbox/ and archive/, each with a .stignore holding the temp-file pattern", async () => {
    const root = join(await tempDir(), "queue");
    const paths = await initQueue(root);
    expect(paths).toEqual(queuePaths(root));
    expect((await readdir(root)).sort()).toEqual(["archive", "inbox", "outbox"]);
    for (const folder of FOLDERS) {
      expect((await stat(join(root, folder))).isDirectory()).toBe(true);
      const lines = (await readFile(join(root, folder, ".stignore"), "utf8")).split("\n");
      expect(lines).toContain(".atomizer-*.tmp");
      expect(lines).toEqual([...STIGNORE_LINES, ""]);
    }
  });

  it("is idempotent: a second run changes nothing and keeps what is in the folders", async () => {
    const root = await tempDir();
    await initQueue(root);
    await mkdir(join(root, "outbox", "job-20260210-143022-wfe"));
    await writeFile(join(root, "outbox", "job-20260210-143022-wfe", JOB_FILE), "{}");
    const before = await readFile(join(root, "inbox", ".stignore"), "utf8");
    await initQueue(root);
    await initQueue(root);
    expect(await readFile(join(root, "inbox", ".stignore"), "utf8")).toBe(before);
    expect(await readdir(join(root, "outbox", "job-20260210-143022-wfe"))).toEqual([JOB_FILE]);
  });

  it("never overwrites a .stignore the user wrote", async () => {
    const root = await tempDir();
    await mkdir(join(root, "outbox"));
    await writeFile(join(root, "outbox", ".stignore"), "#include shared-ignores.txt\n");
    await initQueue(root);
    expect(await readFile(join(root, "outbox", ".stignore"), "utf8")).toBe("#include shared-ignores.txt\n");
    expect(await readFile(join(root, "inbox", ".stignore"), "utf8")).toContain(".atomizer-*.tmp");
  });

  it("the .stignore pattern covers the temp files writeFileAtomic makes", () => {
    const temp = basename(tempPathFor(join("q", "outbox", "job-20260210-143022-wfe", JOB_FILE)));
    const pattern = STIGNORE_LINES.find((line) => line.startsWith(ATOMIC_TEMP_PREFIX));
    expect(pattern).toBe(`${ATOMIC_TEMP_PREFIX}*${ATOMIC_TEMP_SUFFIX}`);
    // The glob as Syncthing reads it: `*` is any run of characters.
    const glob = new RegExp(
      `^${(pattern ?? "")
        .split("*")
        .map((part) => part.replace(/\./g, "\\."))
        .join(".*")}$`,
    );
    expect(temp).toMatch(glob);
  });
});

describe("checkQueueLayout", () => {
  it("is happy with an initialised queue", async () => {
    const root = await tempDir();
    await initQueue(root);
    expect(await checkQueueLayout(root)).toEqual([]);
  });

  it("says a missing root does not exist and how to create it", async () => {
    const root = join(await tempDir(), "nowhere");
    expect(await checkQueueLayout(root)).toEqual([
      `queue root ${root} does not exist or is not a folder; create it with \`atomizer-jobs init --queue ${root}\``,
    ]);
  });

  it("says a root that is a file is not a folder", async () => {
    const root = join(await tempDir(), "file");
    await writeFile(root, "");
    const problems = await checkQueueLayout(root);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("is not a folder");
    expect(problems[0]).toContain("atomizer-jobs init");
  });

  it.each(FOLDERS)("names a missing %s/ and says to run atomizer-jobs init", async (folder) => {
    const root = await tempDir();
    await initQueue(root);
    await rm(join(root, folder), { recursive: true });
    const problems = await checkQueueLayout(root);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(join(root, folder));
    expect(problems[0]).toContain(`atomizer-jobs init --queue ${root}`);
  });

  it("names every missing folder at once", async () => {
    const root = await tempDir();
    expect(await checkQueueLayout(root)).toHaveLength(3);
  });
});

describe("queuePaths and constants", () => {
  it("computes Windows paths on any host with path.win32", () => {
    expect(queuePaths("C:\\Atomizer\\job-queue", win32)).toEqual({
      root: "C:\\Atomizer\\job-queue",
      outbox: "C:\\Atomizer\\job-queue\\outbox",
      inbox: "C:\\Atomizer\\job-queue\\inbox",
      archive: "C:\\Atomizer\\job-queue\\archive",
      cancelDir: "C:\\Atomizer\\job-queue\\outbox\\.cancel",
      runnersDir: "C:\\Atomizer\\job-queue\\inbox\\.runners",
      stateDir: "C:\\Atomizer\\job-queue\\.state",
      fetchedDir: "C:\\Atomizer\\job-queue\\.state\\fetched",
      tasksDir: "C:\\Atomizer\\job-queue\\.state\\tasks",
    });
  });

  it("uses the names docs/PROTOCOL.md gives", () => {
    expect([JOB_FILE, LOG_FILE, RESULTS_DIR, PROGRESS_FILE, STUDY_DB]).toEqual([
      "job.json",
      "stdout.log",
      "3_results",
      "progress.json",
      "study.db",
    ]);
    expect(JOB_ENV).toEqual({
      jobId: "ATOMIZER_JOB_ID",
      jobDir: "ATOMIZER_JOB_DIR",
      resultsDir: "ATOMIZER_RESULTS_DIR",
    });
    expect(FOLDER_WRITERS).toEqual({ outbox: "submitter", archive: "submitter", inbox: "runner" });
  });
});
