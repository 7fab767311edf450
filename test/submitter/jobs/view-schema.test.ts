// viewField: a protocol field as an output view describes it (its kind, not its checks), so the tools'
// JSON Schema stays small while the views are built from protocol's schemas.

import { describe, expect, test } from "vitest";
import { z } from "zod";
import * as z4mini from "zod/v4-mini";
import {
  IsoTimeSchema,
  JobErrorSchema,
  ProgressSchema,
  RunnerHeartbeatSchema,
} from "../../../protocol/index.ts";
import { viewField, viewShape } from "../../../submitter/jobs/view-schema.ts";

const json = (schema: z.ZodType) => {
  const { $schema: _drop, ...rest } = z4mini.toJSONSchema(schema, { target: "draft-7", io: "input" });
  return rest;
};

describe("viewField", () => {
  test.each([
    { name: "an ISO time", field: IsoTimeSchema, expected: { type: "string" } },
    { name: "a bounded string", field: z.string().min(1).max(200), expected: { type: "string" } },
    { name: "an enum", field: ProgressSchema.shape.source, expected: { type: "string" } },
    { name: "an integer", field: z.number().int().nonnegative(), expected: { type: "number" } },
    {
      name: "a nullable integer",
      field: ProgressSchema.shape.trials_planned,
      expected: { type: ["number", "null"] },
    },
    {
      name: "a list of names",
      field: RunnerHeartbeatSchema.shape.running,
      expected: { type: "array", items: { type: "string" } },
    },
    { name: "an enum or any string", field: JobErrorSchema.shape.kind, expected: { type: "string" } },
    { name: "a boolean, unchanged", field: z.boolean(), expected: { type: "boolean" } },
  ])("$name", ({ field, expected }) => {
    expect(json(viewField(field))).toEqual(expected);
  });

  test("optional stays optional; a record is kept as it is", () => {
    const view = z.object({
      at: viewField(IsoTimeSchema.optional()),
      params: viewField(ProgressSchema.shape.best_params),
    });
    expect(json(view)).toEqual({
      type: "object",
      properties: { at: { type: "string" }, params: json(ProgressSchema.shape.best_params) },
    });
  });
});

describe("viewShape", () => {
  test("the fields named, in the order named, each a view field", () => {
    const shape = viewShape(RunnerHeartbeatSchema.shape, ["last_seen", "host", "interval_s"]);
    expect(Object.keys(shape)).toEqual(["last_seen", "host", "interval_s"]);
    expect(json(z.object(shape))).toEqual({
      type: "object",
      properties: { last_seen: { type: "string" }, host: { type: "string" }, interval_s: { type: "number" } },
      required: ["last_seen", "host", "interval_s"],
    });
  });
});
