import { z } from "zod";

export type JsonSchema = { [key: string]: unknown };

/**
 * Objects nested deeper than this in an outputSchema (an array's items count as a level) are listed
 * as plain objects: a result's own fields are typed, and so are the status view's; list rows,
 * progress, results and studies are described by the result's text and by SKILL.md.
 */
export const OUTPUT_OBJECT_DEPTH = 1;

const isObject = (value: unknown): value is JsonSchema =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** `type: [a, b]` becomes anyOf of single types: the portable spelling (Inspector --strict warns otherwise). */
function splitTypeUnion(node: JsonSchema): JsonSchema {
  const { type, ...rest } = node;
  if (!Array.isArray(type)) return node;
  return { ...rest, anyOf: type.map((one) => ({ type: one })) };
}

/**
 * A string enum or const already says the value is a string: `type` beside it constrains nothing
 * (every value it allows is one of those strings), so the listing leaves it out.
 */
function dropTypeOfStringChoice(node: JsonSchema): void {
  if (node.type !== "string") return;
  const choices = Array.isArray(node.enum) ? node.enum : "const" in node ? [node.const] : undefined;
  if (choices && choices.length > 0 && choices.every((choice) => typeof choice === "string"))
    delete node.type;
}

/** An integer above 0 is one of at least 1: the shorter, equally exact bound. */
function integerMinimum(node: JsonSchema): void {
  if (node.type === "integer" && node.exclusiveMinimum === 0 && node.minimum === undefined) {
    delete node.exclusiveMinimum;
    node.minimum = 1;
  }
}

/** zod's integers carry the safe-integer range as bounds: 50 characters that say nothing. */
function dropSafeIntegerBounds(node: JsonSchema): void {
  if (node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
  if (node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
}

/**
 * One object for a union of objects (the status view's states): every property once, the
 * discriminator's constants as one enum, required only what every branch requires. Anything valid
 * for one branch is valid for the merged object, so a result never fails the listed schema.
 */
function mergeObjectUnion(branches: JsonSchema[]): JsonSchema | undefined {
  if (branches.length < 2 || !branches.every((b) => b.type === "object" && isObject(b.properties))) {
    return undefined;
  }
  const properties: Record<string, JsonSchema> = {};
  const constants = new Map<string, unknown[]>();
  for (const branch of branches) {
    for (const [key, value] of Object.entries(branch.properties as Record<string, JsonSchema>)) {
      if ("const" in value) constants.set(key, [...(constants.get(key) ?? []), value.const]);
      const known = properties[key];
      if (!known) properties[key] = value;
      // One name, two schemas in two states: either is fine.
      else if (JSON.stringify(known) !== JSON.stringify(value)) {
        const options = (known.anyOf as JsonSchema[] | undefined) ?? [known];
        if (!options.some((option) => JSON.stringify(option) === JSON.stringify(value))) {
          properties[key] = { anyOf: [...options, value] };
        }
      }
    }
  }
  for (const [key, values] of constants) {
    if (values.length === branches.length) properties[key] = { enum: values };
  }
  const required = (branches[0]?.required as string[] | undefined)?.filter((key) =>
    branches.every((b) => (b.required as string[] | undefined)?.includes(key)),
  );
  return { type: "object", properties, ...(required && required.length > 0 ? { required } : {}) };
}

function compactNode(value: unknown, output: boolean, depth: number): unknown {
  if (Array.isArray(value)) return value.map((item) => compactNode(item, output, depth));
  if (!isObject(value)) return value;
  let node: JsonSchema = { ...value };
  delete node.$schema;
  const union = (node.oneOf ?? node.anyOf) as JsonSchema[] | undefined;
  const merged = output && Array.isArray(union) ? mergeObjectUnion(union) : undefined;
  if (merged) node = merged;
  node = splitTypeUnion(node);
  dropSafeIntegerBounds(node);
  dropTypeOfStringChoice(node);
  integerMinimum(node);
  if (node.type === "object") {
    // Free-form records (propertyNames + an empty additionalProperties schema) say only "an object".
    if (isObject(node.additionalProperties) && Object.keys(node.additionalProperties).length === 0) {
      delete node.additionalProperties;
      delete node.propertyNames;
    }
    // Property names are strings in every JSON document: only their pattern says something.
    if (isObject(node.propertyNames) && node.propertyNames.type === "string") {
      const { type: _string, ...names } = node.propertyNames;
      node.propertyNames = names;
    }
    if (output) {
      delete node.additionalProperties;
      if (depth > OUTPUT_OBJECT_DEPTH) return { type: "object" };
    }
  }
  const next = node.type === "object" || node.type === "array" ? depth + 1 : depth;
  const out: JsonSchema = {};
  for (const [key, child] of Object.entries(node)) {
    if (key === "properties" && isObject(child)) {
      out[key] = Object.fromEntries(
        Object.entries(child).map(([name, schema]) => [name, compactNode(schema, output, next)]),
      );
    } else if (key === "items" || key === "anyOf" || key === "oneOf" || key === "additionalProperties") {
      out[key] = compactNode(child, output, next);
    } else {
      out[key] = child;
    }
  }
  return out;
}

/**
 * A tool's inputSchema as listed: zod's JSON Schema (draft-07, what clients validate) without what
 * costs characters and says nothing. Validation runs on the zod schema itself.
 */
export function inputJsonSchema(schema: z.ZodObject): JsonSchema {
  return compactNode(z.toJSONSchema(schema, { target: "draft-7", io: "input" }), false, 0) as JsonSchema;
}

/**
 * A tool's outputSchema as listed: a relaxation of the zod schema (unions of objects merged, deep
 * objects plain, extra properties allowed, nothing required at the top), so every real result
 * validates against it, and so does an error result's `{code, message, next}`.
 */
export function outputJsonSchema(schema: z.ZodObject, unlisted: readonly string[] = []): JsonSchema {
  const compact = compactNode(
    z.toJSONSchema(schema, { target: "draft-7", io: "output" }),
    true,
    0,
  ) as JsonSchema;
  const { required: _required, ...rest } = compact;
  for (const path of unlisted) {
    const names = path.split(".");
    const field = names.pop() as string;
    let node: JsonSchema | undefined = rest;
    for (const name of names) node = (node?.properties as Record<string, JsonSchema> | undefined)?.[name];
    const properties = node?.properties as Record<string, unknown> | undefined;
    if (!properties || !(field in properties)) throw new Error(`unlisted field ${path} is not in the schema`);
    delete properties[field];
    if (Array.isArray(node?.required) && node.required.includes(field)) {
      throw new Error(`unlisted field ${path} is required`);
    }
  }
  return rest;
}
