import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { inputJsonSchema, outputJsonSchema } from "../../../submitter/mcp/tool-schema.ts";

const View = z.discriminatedUnion("state", [
  z.object({ job_id: z.string(), state: z.literal("queued"), position: z.number().int().nullable() }),
  z.object({ job_id: z.string(), state: z.literal("running"), progress: z.object({ done: z.number() }) }),
  z.object({ job_id: z.string(), state: z.literal("failed"), position: z.string() }),
]);
const Output = z.object({ count: z.number().int(), job: View, rows: z.array(z.object({ id: z.string() })) });

describe("listed schemas", () => {
  const listed = outputJsonSchema(Output);
  // The validator the SDK client checks every structuredContent with.
  const validate = new AjvJsonSchemaValidator().getValidator(listed);

  test("are a relaxation: every value the zod schema accepts validates, and so does the error shape", () => {
    const values = [
      { count: 1, job: { job_id: "a", state: "queued", position: null }, rows: [{ id: "x" }] },
      { count: 2, job: { job_id: "b", state: "running", progress: { done: 3 } }, rows: [] },
      { count: 3, job: { job_id: "c", state: "failed", position: "n/a" }, rows: [] },
      { code: "not_found", message: "no job", next: "call list_jobs" },
    ];
    for (const value of values) {
      if ("count" in value) expect(Output.safeParse(value).success).toBe(true);
      const verdict = validate(value);
      expect(verdict.valid, verdict.errorMessage).toBe(true);
    }
    expect(validate({ count: "many" }).valid).toBe(false);
  });

  test("merge a union of objects into one, list nested rows as objects, drop noise", () => {
    const { job } = listed.properties as {
      job: { properties: Record<string, unknown>; required: string[] };
    };
    expect(job.properties.state).toEqual({ enum: ["queued", "running", "failed"] });
    expect(job.required).toEqual(["job_id", "state"]);
    expect(job.properties.progress).toEqual({ type: "object" });
    expect(job.properties.position).toEqual({
      anyOf: [{ type: "integer" }, { type: "null" }, { type: "string" }],
    });
    expect((listed.properties as Record<string, unknown>).rows).toEqual({
      type: "array",
      items: { type: "object" },
    });
    const text = JSON.stringify(listed);
    for (const noise of ["$schema", "9007199254740991", "additionalProperties", '"type":["']) {
      expect(text).not.toContain(noise);
    }
    expect(listed).not.toHaveProperty("required");
  });

  test("leave out unlisted fields, and refuse a path that is not there or is required", () => {
    const trimmed = outputJsonSchema(Output, ["job.progress", "count"]);
    expect(Object.keys(trimmed.properties as object)).toEqual(["job", "rows"]);
    expect(() => outputJsonSchema(Output, ["job.nothing"])).toThrow(/not in the schema/);
    expect(() => outputJsonSchema(Output, ["job.job_id"])).toThrow(/is required/);
  });

  test("inputs keep their bounds and defaults but not zod's noise", () => {
    const input = inputJsonSchema(
      z.object({
        id: z.string().max(64),
        limit: z.number().int().min(1).max(200).optional().meta({ default: 20 }),
      }),
    );
    expect(input).toEqual({
      type: "object",
      properties: {
        id: { type: "string", maxLength: 64 },
        limit: { default: 20, type: "integer", minimum: 1, maximum: 200 },
      },
      required: ["id"],
    });
  });
});
