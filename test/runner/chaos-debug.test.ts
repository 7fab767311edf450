import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { isTerminal } from "../../protocol/index.ts";
import { startAtomizerJobs } from "../helpers/atomizer-jobs.ts";
import type { TestQueue } from "./helpers/make-job.ts";
import { folderArgs, inboxJob, makeQueue, readText, submitJob } from "./helpers/make-job.ts";

/**
 * The promise itself: a runner SIGKILLed at random points (intake, start, mid-run, while publishing)
 * and restarted after each kill never starts a job twice, never loses one, leaves none unfinished,
 * and every script that exited 0 ends completed.
 */
const JOBS = 200;
const PER_ROUND = 4;

let queue: TestQueue;
beforeEach(async () => {
  queue = await makeQueue();
});
afterEach(async () => {
  await queue.cleanup();
});

// A fixed-seed generator: a failure can be replayed.
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function runner(extra: string[] = []) {
  const args = ["runner", ...folderArgs(queue), "--python", "python3", "--slots", "2"];
  const live = startAtomizerJobs([...args, "--heartbeat", "0.3", "--rescan", "0.3", ...extra]);
  return { child: live.child, exited: live.exited, log: live.output };
}

const lines = async (file: string) => (await readText(file)).split("\n").filter((l) => l !== "");

test(`${JOBS} job lifecycles under random runner SIGKILLs: none started twice, none lost, none left unfinished`, async () => {
  const next = random(19);
  const starts = path.join(queue.scratch, "starts.txt");
  const exits = path.join(queue.scratch, "exits.txt");
  const ids: string[] = [];
  let kills = 0;
  const logs: string[] = [];
  for (let round = 0; ids.length < JOBS && round < 400; round++) {
    for (let i = 0; i < PER_ROUND && ids.length < JOBS; i++) {
      const n = ids.length;
      const seconds = (0.05 + next() * 0.35).toFixed(2);
      const code = n % 9 === 4 ? "5" : "0";
      ids.push(
        await submitJob(queue, {
          name: `chaos ${n}`,
          fixture: "chaos_job.py",
          args: [starts, exits, seconds, code],
          createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + n * 1000),
        }),
      );
    }
    const live = runner();
    await new Promise((resolve) => setTimeout(resolve, 200 + next() * 1000));
    live.child.kill("SIGKILL");
    await live.exited;
    kills++;
    logs.push(live.log());
    if (ids.length >= JOBS) {
      const views = await Promise.all(ids.map((id) => inboxJob(queue, id)));
      if (views.every((view) => view && isTerminal(view.status))) break;
    }
  }
  // A last, clean pass settles whatever the final kill interrupted.
  const last = runner(["--once"]);
  expect(await last.exited, last.log()).toBe(0);

  const started = await lines(starts);
  const counts = new Map<string, number>();
  for (const id of started) counts.set(id, (counts.get(id) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  expect(twice, `started twice, after ${kills} kills`).toEqual([]);

  const views = await Promise.all(ids.map(async (id) => ({ id, job: await inboxJob(queue, id) })));
  const lost = views.filter((v) => v.job === undefined).map((v) => v.id);
  expect(lost, "jobs with no inbox record").toEqual([]);
  const unfinished = views.filter((v) => !isTerminal(v.job?.status ?? "submitted")).map((v) => v.id);
  expect(unfinished, "jobs left non-terminal").toEqual([]);

  const exitCodes = new Map((await lines(exits)).map((line) => line.split(" ") as [string, string]));
  for (const { id, job } of views) {
    const code = exitCodes.get(id);
    if (code === "0") expect(job, `${id} exited 0`).toMatchObject({ status: "completed", exit_code: 0 });
    if (code === "5") expect(job, `${id} exited 5`).toMatchObject({ status: "failed", exit_code: 5 });
    // Every job ran exactly once: no kill of the runner ever cost a run.
    if (counts.get(id) !== 1) {
      console.log("BAD", id, counts.get(id), JSON.stringify(job));
      const fs = await import("node:fs/promises");
      for (const l of logs)
        if (l.includes(id))
          console.log(
            "LOG",
            l
              .split("\n")
              .filter((x) => x.includes(id))
              .join("\n"),
          );
      console.log(
        "LAST",
        last
          .log()
          .split("\n")
          .filter((x) => x.includes(id))
          .join("\n"),
      );
      try {
        console.log("RUN", await fs.readdir(path.join(queue.work, ".runs", id)));
      } catch (e) {
        console.log("norun", String(e));
      }
    }
  }
  expect(kills).toBeGreaterThan(10);
  const ended = views.map((v) => v.job?.status);
  console.info(
    `chaos: ${JOBS} jobs, ${kills} runner SIGKILLs, ${ended.filter((s) => s === "completed").length} completed, ${ended.filter((s) => s === "failed").length} failed by their own exit code, 0 started twice`,
  );
}, 400_000);
