import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  archiveDirsOf,
  archivedJobId,
  archivedJobIds,
  listArchiveDirs,
  queueJobIds,
  queuePaths,
} from "../../protocol/index.ts";
import { POSIX } from "../helpers/hostile-fs.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("archive-listing");
const A = "job-20260210-143022-wfe";
const B = "job-20260211-090000-thermal";

/** A queue with archives of two jobs (A twice), live jobs and things that are no jobs at all. */
async function sampleQueue() {
  const queue = queuePaths(await tempDir());
  const dirs = [
    join(queue.archive, `${A}-20260212T100000Z`),
    join(queue.archive, `${A}-20260213T080000Z`),
    join(queue.archive, `${B}-20260212T120000Z`),
    // A near-miss id still parses as an archive name; archivedJobIds leaves it out.
    join(queue.archive, "job-typo-20260212T120000Z"),
    join(queue.archive, "notes"),
    join(queue.outbox, A),
    join(queue.outbox, ".cancel"),
    join(queue.inbox, B),
    join(queue.inbox, ".runners"),
    join(queue.inbox, "job-near-miss"),
  ];
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  // Files named like job or archive folders are neither.
  await writeFile(join(queue.archive, `${B}-20260214T000000Z`), "");
  await writeFile(join(queue.outbox, "job-20260215-000000-file"), "");
  if (POSIX)
    await symlink(join(queue.archive, `${B}-20260212T120000Z`), join(queue.archive, `${B}-20260216T000000Z`));
  return queue;
}

describe("archive listing", () => {
  it("lists archive folders newest first, folders only", async () => {
    const queue = await sampleQueue();
    expect((await listArchiveDirs(queue.archive)).map((dir) => dir.name)).toEqual([
      `${A}-20260213T080000Z`,
      // Archived in the same second: the name decides, so the order never depends on readdir's.
      "job-typo-20260212T120000Z",
      `${B}-20260212T120000Z`,
      `${A}-20260212T100000Z`,
    ]);
    const [newest] = await listArchiveDirs(queue.archive);
    expect(newest).toEqual({ name: `${A}-20260213T080000Z`, job_id: A, archived_at: "2026-02-13T08:00:00Z" });
  });

  it.each([
    [A, [`${A}-20260213T080000Z`, `${A}-20260212T100000Z`]],
    [B, [`${B}-20260212T120000Z`]],
    ["job-20260101-000000-never", []],
  ])("archive folders of %s", async (jobId, want) => {
    expect(await archiveDirsOf(await sampleQueue(), jobId)).toEqual(want);
  });

  it("names every well-formed archived job id", async () => {
    expect([...(await archivedJobIds(await sampleQueue()))].sort()).toEqual([A, B]);
  });

  it.each([
    [`${A}-20260213T080000Z`, A],
    ["job-typo-20260212T120000Z", undefined],
    [A, undefined],
    ["notes", undefined],
  ])("archivedJobId(%s) = %s", (name, want) => {
    expect(archivedJobId(name)).toBe(want);
  });

  it("lists the job ids of outbox/, inbox/ and archive/, near misses included", async () => {
    expect(await queueJobIds(await sampleQueue())).toEqual([A, B, "job-near-miss", "job-typo"].sort());
  });

  it("a queue whose folders are missing holds nothing", async () => {
    const queue = queuePaths(join(await tempDir(), "nowhere"));
    expect(await listArchiveDirs(queue.archive)).toEqual([]);
    expect(await archivedJobIds(queue)).toEqual(new Set());
    expect(await queueJobIds(queue)).toEqual([]);
  });
});
