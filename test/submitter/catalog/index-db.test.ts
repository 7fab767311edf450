// The index is a cache of what the folders prove: deleting it, garbage in it or a file of another
// schema version loses nothing. Each case opens a catalog over a generated queue, changes the file
// while no catalog holds it, and opens again: the rows are those the job.json files prove.
import { existsSync } from "node:fs";
import { mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { IN_MEMORY, INDEX_SCHEMA_VERSION, openIndexDb } from "../../../submitter/catalog/index-db.ts";
import { indexFileFor } from "../../../submitter/catalog/index-location.ts";
import type { CatalogRow } from "../../../submitter/catalog/job-catalog.ts";
import { openCatalog } from "../../../submitter/catalog/open-catalog.ts";
import type { KnownQueue } from "../fixtures/generated-queue.ts";
import { generateKnownQueue } from "../fixtures/generated-queue.ts";

const JOBS = 90;
/** SQLite's default page size. */
const PAGE = 4096;

let base: string;
let generated: KnownQueue;
let stateDir: string;
let file: string;

/** A catalog's rows without their counters (a rebuilt index counts afresh), by job id. */
async function rowsNow(
  log: (line: string) => void = () => {},
): Promise<{ rows: Map<string, unknown>; instance: string }> {
  const catalog = await openCatalog({ kind: "disk", queueRoot: generated.paths.root, stateDir, log });
  try {
    const listing = await catalog.list();
    const rows = new Map(listing.rows.map(({ change: _change, ...row }: CatalogRow) => [row.job_id, row]));
    return { rows, instance: listing.instance };
  } finally {
    await catalog.close();
  }
}

let reference: Map<string, unknown>;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "atomizer-index-db-"));
  generated = await generateKnownQueue(join(base, "queue"), JOBS, "mixed");
  stateDir = join(base, "state");
  file = await indexFileFor(stateDir, generated.paths.root);
  reference = (await rowsNow()).rows;
});

afterAll(() => rm(base, { recursive: true, force: true }));

test("the reference rows are what the files prove", () => {
  expect(existsSync(file)).toBe(true);
  expect(new Map([...reference].map(([id, row]) => [id, (row as CatalogRow).state]))).toEqual(
    generated.states,
  );
});

describe("openIndexDb", () => {
  test("a new file is fresh; kept, it keeps its instance", async () => {
    const path = join(base, "alone.sqlite");
    const first = await openIndexDb(path, () => {});
    first.db.close();
    const again = await openIndexDb(path, () => {});
    again.db.close();
    expect([first.fresh, again.fresh]).toEqual([true, false]);
    expect(again.instance).toBe(first.instance);
  });

  test("memory is fresh every time, with an instance of its own", async () => {
    const [a, b] = [await openIndexDb(IN_MEMORY, () => {}), await openIndexDb(IN_MEMORY, () => {})];
    a.db.close();
    b.db.close();
    expect([a.fresh, b.fresh]).toEqual([true, true]);
    expect(a.instance).not.toBe(b.instance);
  });
});

async function withoutSidecars(): Promise<void> {
  await Promise.all(["-wal", "-shm"].map((end) => rm(`${file}${end}`, { force: true })));
}

describe("a damaged or missing index is rebuilt with the same rows", () => {
  test("the file deleted", async () => {
    const { instance } = await rowsNow();
    await rm(file);
    await withoutSidecars();
    const after = await rowsNow();
    expect(after.rows).toEqual(reference);
    // Cursors of the old index are not comparable with the new one's.
    expect(after.instance).not.toBe(instance);
  });

  test("garbage in place of the file: moved aside, said in the log, rebuilt", async () => {
    const garbage = "this is not an SQLite database\n".repeat(200);
    await writeFile(file, garbage);
    await withoutSidecars();
    const lines: string[] = [];
    const after = await rowsNow((line) => lines.push(line));
    expect(after.rows).toEqual(reference);
    const aside = (await readdir(stateDir)).filter((name) =>
      name.startsWith(`${file.split(/[\\/]/).at(-1)}.unreadable-`),
    );
    expect(aside).toHaveLength(1);
    expect(await readFile(join(stateDir, aside[0] as string), "utf8")).toBe(garbage);
    expect(
      lines.some(
        (line) => line.includes(file) && line.includes("cannot be read") && line.includes(aside[0] as string),
      ),
    ).toBe(true);
  });

  test("an index of another schema version: its tables dropped, rebuilt", async () => {
    const { instance } = await rowsNow();
    const db = new DatabaseSync(file);
    db.prepare("UPDATE meta SET value = ? WHERE key = 'version'").run(`${INDEX_SCHEMA_VERSION}-old`);
    // A row no folder proves: kept, it would show in the listing.
    db.prepare("UPDATE jobs SET state = 'failed', row = json_set(row, '$.state', 'failed')").run();
    db.close();
    const after = await rowsNow();
    expect(after.rows).toEqual(reference);
    expect(after.instance).not.toBe(instance);
    const check = new DatabaseSync(file, { readOnly: true });
    const version = check.prepare("SELECT value FROM meta WHERE key = 'version'").get() as { value: string };
    check.close();
    expect(version.value).toBe(INDEX_SCHEMA_VERSION);
  });

  // FAILS on af3a773 (bug found by index-tests): openIndexDb only catches errors while opening; a
  // file whose meta page reads fine fails later, in the first reconcile ("database disk image is
  // malformed"), so openCatalog throws and the server does not start until the file is deleted.
  test("pages damaged past the header (a torn write, a bad sector): moved aside, said in the log, rebuilt", async () => {
    await rowsNow();
    await withoutSidecars();
    // The first two pages (the header and sqlite_master, the meta table) stay readable: opening
    // works, and the damage shows only when the jobs' pages are read.
    const size = (await stat(file)).size;
    const handle = await open(file, "r+");
    await handle.write(Buffer.alloc(size - 2 * PAGE, 0x5a), 0, size - 2 * PAGE, 2 * PAGE);
    await handle.close();
    const lines: string[] = [];
    // A damaged index left behind would fail every later test too.
    const after = await rowsNow((line) => lines.push(line)).finally(async () => {
      if (lines.length === 0) await rm(file, { force: true });
    });
    expect(after.rows).toEqual(reference);
    expect(lines.some((line) => line.includes(file) && line.includes("cannot be read"))).toBe(true);
  });
});
