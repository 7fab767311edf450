// Several server processes write one index. Two watched catalogs on the same state folder (two
// connections to one file, each with its own JobIndex, as two processes have) and a writer that
// stores its own submissions there too: every change reaches both catalogs' subscribers as a "row"
// event although another of them stored it first, a heartbeat is "touched" in both, and a job whose
// every file vanished is "removed" in both.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { IndexedCatalog } from "../../../submitter/catalog/indexed-catalog.ts";
import type { CatalogEvent, JobState } from "../../../submitter/catalog/job-catalog.ts";
import { openCatalog } from "../../../submitter/catalog/open-catalog.ts";
import type { ServerContext } from "../../../submitter/context.ts";
import { createServerContext } from "../../../submitter/context.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { acceptJob, finishJob, heartbeat, startJob } from "../fixtures/runner-fixture.ts";
import { makeQueueWithStudy } from "../fixtures/study-fixture.ts";

const WAIT_MS = 20_000;

interface Watched {
  name: string;
  catalog: IndexedCatalog;
  events: CatalogEvent[];
  stop: () => void;
}

let base: string;
let queue: QueuePaths;
let study: string;
let stateDir: string;
let writer: ServerContext;
let servers: Watched[] = [];

async function watched(name: string): Promise<Watched> {
  const catalog = await openCatalog({ kind: "watched", queueRoot: queue.root, stateDir });
  if (!(catalog instanceof IndexedCatalog)) throw new Error("not an indexed catalog");
  const events: CatalogEvent[] = [];
  const stop = await catalog.subscribe("*", (event) => events.push(event));
  return { name, catalog, events, stop };
}

/** Resolves once `server` has an event of `jobId` that `match` accepts (checked on every event). */
function eventIn(
  server: Watched,
  jobId: string,
  what: string,
  match: (e: CatalogEvent) => boolean,
): Promise<CatalogEvent> {
  return new Promise((resolve, reject) => {
    const found = () => server.events.find((event) => event.job_id === jobId && match(event));
    let stop = () => {};
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${server.name}: timed out after ${WAIT_MS} ms waiting for ${what} of ${jobId}`));
    }, WAIT_MS);
    // The event itself too: this listener may be called before the "*" one records it.
    const check = (given?: CatalogEvent) => {
      const event = given && match(given) ? given : found();
      if (!event) return;
      clearTimeout(timer);
      stop();
      resolve(event);
    };
    void server.catalog.subscribe(jobId, check).then((unsubscribe) => {
      stop = unsubscribe;
      check();
    });
  });
}

/** Both servers report `jobId` reaching `state` as a "row" event. */
function rowInBoth(jobId: string, state: JobState): Promise<CatalogEvent[]> {
  return Promise.all(
    servers.map((server) =>
      eventIn(server, jobId, `a row event with ${state}`, (e) => e.change === "row" && e.row.state === state),
    ),
  );
}

beforeAll(async () => {
  ({ base, queue, study } = await makeQueueWithStudy());
  stateDir = join(base, "state");
  servers = [await watched("first"), await watched("second")];
  writer = await createServerContext({ queueRoot: queue.root, allow: [base], withIndex: false, stateDir });
});

afterAll(async () => {
  for (const server of servers) {
    server.stop();
    await server.catalog.close();
  }
  await writer?.close();
  await rm(base, { recursive: true, force: true });
});

describe("two server processes on one index", () => {
  let jobId = "";

  test("a submission stored by the submitting process is a new row in both", async () => {
    jobId = (await submitJob(writer, { study_dir: study, name: "shared", project: "shared" }, "atlas"))
      .job_id;
    const [first, second] = await rowInBoth(jobId, "submitted");
    expect([first?.added, second?.added]).toEqual([true, true]);
    // One index: both saw the same stored change.
    expect(first?.row.change).toBe(second?.row.change);
  });

  test.each<[JobState, () => Promise<unknown>]>([
    ["queued", () => acceptJob(queue, jobId)],
    ["running", () => startJob(queue, jobId)],
    ["completed", () => finishJob(queue, jobId, "completed", { log: "done\n" })],
  ])("the runner's move to %s is a row event in both, whichever stored it first", async (state, move) => {
    await move();
    const [first, second] = await rowInBoth(jobId, state);
    expect(first?.row.change).toBe(second?.row.change);
    // The first event either server gave with the new state calls it a row, not a mere touch.
    for (const server of servers)
      expect(server.events.find((e) => e.job_id === jobId && e.row.state === state)?.change).toBe("row");
  });

  test("the index's counter and rows are the same seen from both", async () => {
    const [a, b] = servers.map((server) => server.catalog.index);
    expect(a?.counter).toBe(b?.counter);
    expect(a?.get(jobId)).toEqual(b?.get(jobId));
    expect(a?.get(jobId)?.state).toBe("completed");
  });

  test("a heartbeat is touched in both, and no row event", async () => {
    const other = (await submitJob(writer, { study_dir: study, name: "beating", project: "shared" }, "atlas"))
      .job_id;
    await acceptJob(queue, other);
    await startJob(queue, other);
    const [running] = await rowInBoth(other, "running");
    for (const server of servers) server.events.length = 0;
    await heartbeat(queue, other);
    await Promise.all(
      servers.map((server) => eventIn(server, other, "a touched event", (e) => e.change === "touched")),
    );
    for (const server of servers) {
      expect(server.events.filter((e) => e.job_id === other && e.change === "row")).toEqual([]);
      expect(server.catalog.index.get(other)?.change).toBe(running?.row.change);
    }
  });

  test("a job whose every file vanished is removed in both", async () => {
    await rm(join(queue.outbox, jobId), { recursive: true });
    await rm(join(queue.inbox, jobId), { recursive: true });
    const removed = await Promise.all(
      servers.map((server) => eventIn(server, jobId, "a removed event", (e) => e.change === "removed")),
    );
    for (const event of removed) expect(event.row).toMatchObject({ job_id: jobId, state: "unknown" });
    expect(removed[0]?.row.change).toBe(removed[1]?.row.change);
    for (const server of servers) expect(server.catalog.index.get(jobId)).toBeUndefined();
    const [page] = await Promise.all(servers.map((server) => server.catalog.query({})));
    expect(page?.removedSince(0).ids).toContain(jobId);
  });
});
