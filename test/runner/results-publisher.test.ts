import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, expect, test } from "vitest";
import { hashFile } from "../../protocol/index.ts";
import { listResultFiles, publishResults } from "../../runner/results-publisher.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "atomizer-publish-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("study.db is published as a consistent backup while another connection holds uncommitted writes", async () => {
  const work = path.join(dir, "work");
  const results = path.join(work, "3_results");
  await mkdir(results, { recursive: true });
  const writer = new DatabaseSync(path.join(results, "study.db"));
  writer.exec(
    "PRAGMA journal_mode = WAL; CREATE TABLE trials (n INTEGER); INSERT INTO trials VALUES (1), (2);",
  );
  writer.exec("BEGIN; INSERT INTO trials VALUES (3);");
  await writeFile(path.join(results, "trials.csv"), "n\n1\n2\n");
  await writeFile(path.join(work, "stdout.log"), "hello\n");
  const inbox = path.join(dir, "inbox");
  try {
    const outcome = await publishResults(work, inbox);
    expect(outcome.problems).toEqual([]);
    expect(outcome.files.map((f) => f.path)).toEqual([
      "3_results/study.db",
      "3_results/trials.csv",
      "stdout.log",
    ]);
    for (const file of outcome.files)
      expect(await hashFile(path.join(inbox, ...file.path.split("/")))).toEqual({
        size: file.size,
        sha256: file.sha256,
      });
    // No sidecar and no temp file reaches the synced folder, and none is left in the work copy.
    expect((await readdir(path.join(inbox, "3_results"))).sort()).toEqual(["study.db", "trials.csv"]);
    expect((await readdir(work)).sort()).toEqual(["3_results", "stdout.log"]);
    const copy = new DatabaseSync(path.join(inbox, "3_results", "study.db"), { readOnly: true });
    expect(copy.prepare("SELECT COUNT(*) AS n FROM trials").get()).toEqual({ n: 2 });
    expect(copy.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "delete" });
    copy.close();
  } finally {
    writer.exec("ROLLBACK");
    writer.close();
  }
});

test("result listing skips links, SQLite sidecars and temp files", async () => {
  const results = path.join(dir, "3_results");
  await mkdir(path.join(results, "plots"), { recursive: true });
  for (const name of [
    "a.csv",
    "plots/b.png",
    "study.db-journal",
    "study.db-wal",
    ".atomizer-x.1-2.tmp",
    ".syncthing.c.csv.tmp",
  ]) {
    await writeFile(path.join(results, ...name.split("/")), "x");
  }
  await symlink("/etc/hostname", path.join(results, "link.txt"));
  expect(await listResultFiles(results)).toEqual(["a.csv", "plots/b.png"]);
  expect(await listResultFiles(path.join(dir, "missing"))).toEqual([]);
});
