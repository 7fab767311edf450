// MCP Tasks (spec 2025-11-25) through the SDK's own client task API: wait_for_job and fetch_results
// run as tasks kept in the queue's state folder, bound to the agent that created them, and outliving
// the server process that created them.
// On both backends (fixtures/stdio-backends.ts): the tasks are kept in the state folder of the queue
// the server reads (`mirror`, on NATS under its --state folder); the runner acts on `queue`.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect } from "vitest";
import { callOk } from "../fixtures/mcp-clients.ts";
import { acceptJob, finishJob, reportProgress, startJob } from "../fixtures/runner-fixture.ts";
import type { BackendTest } from "../fixtures/stdio-backends.ts";
import { stdioBackends } from "../fixtures/stdio-backends.ts";

/** serverFor(agent): a fresh server process for `agent`; each call is a server (re)start. */
const withServerFor = (test: BackendTest) =>
  test.extend("serverFor", ({ startServer }) => async (agent: string): Promise<Client> => {
    const client = await startServer({ role: "admin", agent });
    await client.listTools();
    return client;
  });

async function submit(client: Client, study: string, name: string): Promise<string> {
  return (
    await callOk<{ job_id: string }>(client, "submit_job", { study_dir: study, name, project: "tasks" })
  ).job_id;
}

/** Starts a task with the SDK client's streaming call and returns its id once created. */
async function startTask(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const stream = client.experimental.tasks.callToolStream({ name, arguments: args });
  for await (const message of stream) {
    if (message.type === "taskCreated") return message.task.taskId;
    if (message.type === "error") throw message.error;
    if (message.type === "result") throw new Error(`no task: ${JSON.stringify(message.result)}`);
  }
  throw new Error("the stream ended without a task");
}

const backends = stdioBackends().map((backend) => ({ ...backend, test: withServerFor(backend.test) }));

describe.each(backends)("MCP tasks ($backend)", ({ test }) => {
  test("wait_for_job as a task outlives a server restart and ends when the job is final", async ({
    queue,
    mirror,
    settle,
    study,
    serverFor,
  }) => {
    const first = await serverFor("study-builder");
    const jobId = await submit(first, study, "task restart study");
    const taskId = await startTask(first, "wait_for_job", { job_id: jobId });
    expect(taskId).toMatch(/^[0-9a-f]{32}$/);
    const file = JSON.parse(await readFile(join(mirror.tasksDir, `${taskId}.json`), "utf8"));
    expect(file).toMatchObject({ agent: "study-builder", tool: "wait_for_job", task: { status: "working" } });
    await first.close();

    const second = await serverFor("study-builder");
    expect(await second.experimental.tasks.getTask(taskId)).toMatchObject({ taskId, status: "working" });
    const listed = await second.experimental.tasks.listTasks();
    expect(listed.tasks.map((task) => task.taskId)).toContain(taskId);

    // Another agent cannot see, read or cancel it, whatever it knows of the id.
    const intruder = await serverFor("intruder");
    await expect(intruder.experimental.tasks.getTask(taskId)).rejects.toThrow(/not found/i);
    await expect(intruder.experimental.tasks.cancelTask(taskId)).rejects.toThrow(/not found/i);
    expect((await intruder.experimental.tasks.listTasks()).tasks).toEqual([]);

    // The runner can accept only what reached its queue.
    await settle();
    await acceptJob(queue, jobId);
    await startJob(queue, jobId);
    await reportProgress(queue, jobId, { trials_planned: 4, trials_complete: 2 });
    await settle();
    expect(await second.experimental.tasks.getTask(taskId)).toMatchObject({ status: "working" });
    await finishJob(queue, jobId, "completed", { log: "done\n" });
    const result = (await second.experimental.tasks.getTaskResult(
      taskId,
      CallToolResultSchema,
    )) as CallToolResult;
    expect(result.structuredContent).toMatchObject({
      changed: true,
      timed_out: false,
      job: { state: "completed" },
    });
    expect(await second.experimental.tasks.getTask(taskId)).toMatchObject({ status: "completed" });

    // A plain call of the same tool stays a plain, bounded call.
    const plain = await callOk<{ changed: boolean; job: { state: string } }>(second, "wait_for_job", {
      job_id: jobId,
      timeout_s: 1,
    });
    expect(plain.job.state).toBe("completed");
  });

  test("fetch_results as a task streams to its result once the job has finished", async ({
    queue,
    mirror,
    settle,
    study,
    serverFor,
  }) => {
    const client = await serverFor("optimizer");
    const jobId = await submit(client, study, "task fetch study");
    await settle();
    await acceptJob(queue, jobId);
    await startJob(queue, jobId);
    const statuses: string[] = [];
    const streamed = (async () => {
      for await (const message of client.experimental.tasks.callToolStream({
        name: "fetch_results",
        arguments: { job_id: jobId },
      })) {
        if (message.type === "taskCreated" || message.type === "taskStatus")
          statuses.push(message.task.status);
        if (message.type === "result") return message.result as CallToolResult;
        if (message.type === "error") throw message.error;
      }
      throw new Error("no result");
    })();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await finishJob(queue, jobId, "completed", { log: "fetched by a task\n" });
    const result = await streamed;
    expect(statuses[0]).toBe("working");
    expect(result.structuredContent).toMatchObject({ job_id: jobId, state: "completed", complete: true });
    expect(await readdir(mirror.fetchedDir)).toContain(`${jobId}.json`);
  });

  test("a task on an unknown job fails with the error shape; a cancelled task only stops waiting", async ({
    study,
    serverFor,
  }) => {
    const client = await serverFor("study-builder");
    const unknown = await startTask(client, "wait_for_job", { job_id: "job-20990101-000000-no-such-study" });
    expect(await client.experimental.tasks.getTask(unknown)).toMatchObject({ status: "failed" });
    const failed = (await client.experimental.tasks.getTaskResult(
      unknown,
      CallToolResultSchema,
    )) as CallToolResult;
    expect(failed.isError).toBe(true);
    expect(failed.structuredContent).toMatchObject({ code: "not_found" });

    const jobId = await submit(client, study, "task cancel study");
    const waiting = await startTask(client, "wait_for_job", { job_id: jobId });
    expect(await client.experimental.tasks.cancelTask(waiting)).toMatchObject({ status: "cancelled" });
    const cancelled = (await client.experimental.tasks.getTaskResult(
      waiting,
      CallToolResultSchema,
    )) as CallToolResult;
    expect(cancelled.structuredContent).toMatchObject({ code: "wrong_state" });
    const status = await callOk<{ job: { state: string } }>(client, "job_status", { job_id: jobId });
    expect(status.job.state).toBe("submitted");
  });
});
