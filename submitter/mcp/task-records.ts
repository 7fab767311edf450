import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { errnoCode, readJsonFile, writeJsonAtomic } from "../../protocol/index.ts";

/** 128 random bits as hex: unguessable, and safe to join onto a path once checked. */
const TASK_ID = /^[0-9a-f]{32}$/;

/** A task file holds images of a fetch result at most (MAX_IMAGES of 1 MB as base64). */
const MAX_TASK_FILE_BYTES = 16 * 1024 * 1024;

export const TASK_STATUSES = ["working", "input_required", "completed", "failed", "cancelled"] as const;

/** One MCP task as `<queue>/.state/tasks/<task_id>.json`: the spec's Task, whose it is, what it runs. */
export const TaskRecordSchema = z.object({
  task: z.object({
    taskId: z.string().regex(TASK_ID),
    status: z.enum(TASK_STATUSES),
    statusMessage: z.string().optional(),
    ttl: z.number().nullable(),
    createdAt: z.string(),
    lastUpdatedAt: z.string(),
    pollInterval: z.number().optional(),
  }),
  /** The agent that created it: nobody else finds it. */
  agent: z.string(),
  tool: z.string(),
  args: z.record(z.string(), z.unknown()),
  /** The tool's result, once the task is final. */
  result: z.record(z.string(), z.unknown()).optional(),
});
export type TaskRecord = z.infer<typeof TaskRecordSchema>;

export function newTaskId(): string {
  return randomBytes(16).toString("hex");
}

export function isTaskId(value: string): boolean {
  return TASK_ID.test(value);
}

export function isTerminalStatus(status: TaskRecord["task"]["status"]): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/** A task past its ttl (counted from creation, as the spec says) is gone. */
export function isExpired(record: TaskRecord, now: Date): boolean {
  const { ttl, createdAt } = record.task;
  return ttl !== null && Date.parse(createdAt) + ttl < now.getTime();
}

/** The task files of one queue: read, written atomically, swept once expired. */
export class TaskFiles {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  #path(taskId: string): string {
    return join(this.#dir, `${taskId}.json`);
  }

  /** The record, or undefined when there is none (or it is unreadable: a task nobody can use). */
  async read(taskId: string): Promise<TaskRecord | undefined> {
    if (!isTaskId(taskId)) return undefined;
    try {
      const parsed = TaskRecordSchema.safeParse(
        await readJsonFile(this.#path(taskId), { maxBytes: MAX_TASK_FILE_BYTES }),
      );
      return parsed.success ? parsed.data : undefined;
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return undefined;
      throw error;
    }
  }

  async write(record: TaskRecord): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await writeJsonAtomic(this.#path(record.task.taskId), record);
  }

  async remove(taskId: string): Promise<void> {
    if (isTaskId(taskId)) await rm(this.#path(taskId), { force: true });
  }

  /** Every readable record; expired ones are removed on the way. */
  async all(now: Date): Promise<TaskRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return [];
      throw error;
    }
    const records: TaskRecord[] = [];
    for (const name of names) {
      const taskId = name.replace(/\.json$/, "");
      const record = await this.read(taskId).catch(() => undefined);
      if (record && isExpired(record, now)) await this.remove(taskId);
      else if (record) records.push(record);
    }
    return records;
  }
}
