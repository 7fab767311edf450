// wait_for_job's default (issue 13): returns on a state change, not on progress; progress reaches the
// client as notifications/progress when it gave a progressToken; until: "progress" keeps the old way.
// On both backends (fixtures/stdio-backends.ts): on NATS the runner's writes reach the server's
// mirror through the real runner bridge, with the same timing bounds.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult, Progress } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect } from "vitest";
import type { QueuePaths } from "../../../protocol/index.ts";
import { callOk } from "../fixtures/mcp-clients.ts";
import { acceptJob, finishJob, reportProgress, startJob } from "../fixtures/runner-fixture.ts";
import { stdioBackends } from "../fixtures/stdio-backends.ts";

interface Waited {
  changed: boolean;
  timed_out: boolean;
  waited_s: number;
  job: { state: string; seq: number; progress?: { trials_complete?: number } };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function wait(
  client: Client,
  args: Record<string, unknown>,
  onprogress?: (progress: Progress) => void,
): Promise<Waited> {
  const result = (await client.callTool({ name: "wait_for_job", arguments: args }, undefined, {
    timeout: 60_000,
    ...(onprogress ? { onprogress } : {}),
  })) as CallToolResult;
  if (result.isError) throw new Error(JSON.stringify(result.content));
  return result.structuredContent as unknown as Waited;
}

async function progressSteps(
  queue: QueuePaths,
  jobId: string,
  from: number,
  to: number,
  everyMs: number,
): Promise<void> {
  for (let done = from; done <= to; done++) {
    await reportProgress(queue, jobId, { trials_planned: 30, trials_complete: done, best_value: 1 / done });
    await sleep(everyMs);
  }
}

describe.each(stdioBackends())("wait_for_job ($backend)", ({ test }) => {
  test("queued then running at once is one return; progress alone does not return; the end does", async ({
    client,
    queue,
    settle,
    study,
  }) => {
    const { job_id: jobId } = await callOk<{ job_id: string }>(client, "submit_job", {
      study_dir: study,
      name: "wait default study",
      project: "waits",
    });
    // The runner can accept only what reached its queue.
    await settle();
    const first = wait(client, { job_id: jobId, seq: 0, timeout_s: 20 });
    await sleep(300);
    await acceptJob(queue, jobId);
    await sleep(100);
    await startJob(queue, jobId);
    const woke = await first;
    expect(woke).toMatchObject({ changed: true, timed_out: false, job: { state: "running" } });
    expect(woke.waited_s).toBeLessThan(10);

    // Five progress rewrites in a 3 s bound: no return before the bound, but five notifications.
    const notes: Progress[] = [];
    const started = Date.now();
    const quiet = wait(client, { job_id: jobId, seq: woke.job.seq, timeout_s: 3 }, (p) => notes.push(p));
    await progressSteps(queue, jobId, 1, 5, 300);
    const bounded = await quiet;
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(bounded).toMatchObject({ changed: false, timed_out: true, job: { state: "running" } });
    expect(bounded.job.progress?.trials_complete).toBe(5);
    expect(notes.map((note) => note.progress)).toEqual([1, 2, 3, 4, 5]);
    expect(notes.map((note) => note.total)).toEqual([30, 30, 30, 30, 30]);
    expect(notes[4]?.message).toBe(`${jobId}: 5/30 trials done, best 0.2`);

    // until: "progress" returns on the next progress rewrite, as before.
    const eager = wait(client, { job_id: jobId, seq: bounded.job.seq, timeout_s: 20, until: "progress" });
    await sleep(300);
    await progressSteps(queue, jobId, 6, 6, 0);
    expect(await eager).toMatchObject({ changed: true, job: { progress: { trials_complete: 6 } } });

    // The end of the run returns at once (a final state does not linger).
    const last = wait(client, { job_id: jobId, seq: bounded.job.seq, timeout_s: 20 });
    await sleep(300);
    await finishJob(queue, jobId, "completed", { log: "done\n" });
    const done = await last;
    expect(done).toMatchObject({ changed: true, job: { state: "completed" } });
    expect(done.waited_s).toBeLessThan(3);
  });
});
