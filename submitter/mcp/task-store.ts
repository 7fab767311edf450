import type {
  CreateTaskOptions,
  TaskStore,
} from "@modelcontextprotocol/sdk/experimental/tasks/interfaces.js";
import type { Request, RequestId, Result, Task } from "@modelcontextprotocol/sdk/types.js";
import type { KeyedSerial } from "../../protocol/index.ts";
import { createKeyedSerial } from "../../protocol/index.ts";
import { OperationError } from "../operations/operation-error.ts";
import type { TaskRecord } from "./task-records.ts";
import { isExpired, isTerminalStatus, newTaskId, TaskFiles } from "./task-records.ts";
import { errorResult } from "./tool-result.ts";
import type { ToolSpec } from "./tool-spec.ts";

/** A job can take days: a task is kept a week unless its creator asks for less (at most 30 days). */
export const DEFAULT_TASK_TTL_MS = 7 * 24 * 3600 * 1000;
export const MAX_TASK_TTL_MS = 30 * 24 * 3600 * 1000;
export const TASK_POLL_INTERVAL_MS = 2000;
const PAGE_SIZE = 20;

export interface JobTaskStoreOptions {
  /** `<queue>/.state/tasks`. */
  dir: string;
  /** Tasks are bound to this agent: another agent's task is "not found", whatever session asks. */
  agent: string;
  /** The tools that may run as tasks, by name. */
  tools: ReadonlyMap<string, ToolSpec>;
  /** Shared by the sessions of one process, so two looks never advance one task at once. */
  locks?: KeyedSerial;
  now?: () => Date;
}

/**
 * The SDK's TaskStore over task files in the queue's state folder. Nothing runs in the background:
 * each look at a working task asks its tool whether the job is there yet (from the queue's files),
 * and finishes it when it is, so a task survives any number of server restarts. The session id the
 * SDK passes is ignored: the agent, not the connection, owns a task.
 */
export class JobTaskStore implements TaskStore {
  readonly #files: TaskFiles;
  readonly #agent: string;
  readonly #tools: ReadonlyMap<string, ToolSpec>;
  readonly #locks: KeyedSerial;
  readonly #now: () => Date;

  constructor(options: JobTaskStoreOptions) {
    this.#files = new TaskFiles(options.dir);
    this.#agent = options.agent;
    this.#tools = options.tools;
    this.#locks = options.locks ?? createKeyedSerial();
    this.#now = options.now ?? (() => new Date());
  }

  async #own(taskId: string): Promise<TaskRecord | undefined> {
    const record = await this.#files.read(taskId);
    if (!record || record.agent !== this.#agent) return undefined;
    if (isExpired(record, this.#now())) {
      await this.#files.remove(taskId);
      return undefined;
    }
    return record;
  }

  async #save(
    record: TaskRecord,
    changes: Partial<TaskRecord["task"]>,
    result?: Result,
  ): Promise<TaskRecord> {
    const next: TaskRecord = {
      ...record,
      task: { ...record.task, ...changes, lastUpdatedAt: this.#now().toISOString() },
      ...(result ? { result: result as Record<string, unknown> } : {}),
    };
    await this.#files.write(next);
    return next;
  }

  /** Looks whether a working task's job got where it waits for; finishes the task when it did. */
  async #advance(record: TaskRecord): Promise<TaskRecord> {
    if (record.task.status !== "working") return record;
    const spec = this.#tools.get(record.tool);
    if (!spec?.task) {
      return this.#save(record, { status: "failed", statusMessage: `${record.tool} cannot run as a task` });
    }
    try {
      const { done, message } = await spec.task.check(record.args);
      if (!done) {
        return message === record.task.statusMessage
          ? record
          : this.#save(record, { statusMessage: message });
      }
      const result = await spec.task.finish(record.args, new Date(record.task.createdAt));
      const status = result.isError ? "failed" : "completed";
      return this.#save(record, { status, statusMessage: message }, result);
    } catch (error) {
      const result = errorResult(error);
      return this.#save(record, { status: "failed", statusMessage: "the task's tool refused" }, result);
    }
  }

  /** Creates the task for a tools/call request (`request.params` has the tool's name and parsed arguments). */
  async createTask(params: CreateTaskOptions, _requestId: RequestId, request: Request): Promise<Task> {
    const now = this.#now();
    await this.#files.all(now); // sweeps expired tasks of every agent
    const call = (request.params ?? {}) as { name?: unknown; arguments?: unknown };
    const ttl = Math.min(params.ttl ?? DEFAULT_TASK_TTL_MS, MAX_TASK_TTL_MS);
    const record: TaskRecord = {
      task: {
        taskId: newTaskId(),
        status: "working",
        ttl,
        createdAt: now.toISOString(),
        lastUpdatedAt: now.toISOString(),
        pollInterval: params.pollInterval ?? TASK_POLL_INTERVAL_MS,
      },
      agent: this.#agent,
      tool: String(call.name),
      args: (call.arguments ?? {}) as Record<string, unknown>,
    };
    await this.#files.write(record);
    return (await this.#locks.run(record.task.taskId, () => this.#advance(record))).task;
  }

  async getTask(taskId: string): Promise<Task | null> {
    return this.#locks.run(taskId, async () => {
      const record = await this.#own(taskId);
      return record ? (await this.#advance(record)).task : null;
    });
  }

  async storeTaskResult(taskId: string, status: "completed" | "failed", result: Result): Promise<void> {
    await this.#locks.run(taskId, async () => {
      const record = await this.#own(taskId);
      if (!record) throw new Error(`task ${taskId} not found`);
      if (isTerminalStatus(record.task.status))
        throw new Error(`task ${taskId} is already ${record.task.status}`);
      await this.#save(record, { status }, result);
    });
  }

  async getTaskResult(taskId: string): Promise<Result> {
    const record = await this.#own(taskId);
    if (!record) throw new Error(`task ${taskId} not found`);
    if (record.result) return record.result as Result;
    if (record.task.status === "cancelled") {
      return errorResult(
        new OperationError(
          "wrong_state",
          `task ${taskId} was cancelled; the job itself goes on (cancelling a task only stops the wait)`,
          "call job_status, or cancel_job to stop the job",
        ),
      );
    }
    throw new Error(`task ${taskId} has no result yet (${record.task.status})`);
  }

  async updateTaskStatus(taskId: string, status: Task["status"], statusMessage?: string): Promise<void> {
    await this.#locks.run(taskId, async () => {
      const record = await this.#own(taskId);
      if (!record) throw new Error(`task ${taskId} not found`);
      if (isTerminalStatus(record.task.status))
        throw new Error(`task ${taskId} is already ${record.task.status}`);
      await this.#save(record, { status, ...(statusMessage ? { statusMessage } : {}) });
    });
  }

  /** This agent's tasks, newest first, 20 a page; the cursor is the offset of the next page. */
  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const offset = cursor === undefined ? 0 : Number(cursor);
    if (!Number.isInteger(offset) || offset < 0)
      throw new Error(`cursor ${JSON.stringify(cursor?.slice(0, 40))} is not from tasks/list`);
    const mine = (await this.#files.all(this.#now()))
      .filter((record) => record.agent === this.#agent)
      .sort((a, b) => (a.task.createdAt < b.task.createdAt ? 1 : -1));
    const page = mine.slice(offset, offset + PAGE_SIZE).map((record) => record.task);
    return {
      tasks: page,
      ...(offset + PAGE_SIZE < mine.length ? { nextCursor: String(offset + PAGE_SIZE) } : {}),
    };
  }
}
