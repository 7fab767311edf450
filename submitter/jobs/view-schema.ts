import { z } from "zod";

/**
 * The same field as an output view describes it: its kind (string, number, boolean, arrays of them,
 * optional, nullable), without the checks that guard reading it from the queue (ISO time patterns,
 * integer bounds, enums). The tools' outputSchema is sent to every agent on every session; a time
 * field with its pattern alone is 400 characters of JSON Schema that tells an agent nothing. Anything
 * else (records, objects) is kept as it is.
 */
export function viewField(schema: z.ZodType): z.ZodType {
  const type = schema.def.type;
  if (schema instanceof z.ZodOptional) return viewField(schema.unwrap() as z.ZodType).optional();
  if (schema instanceof z.ZodNullable) return viewField(schema.unwrap() as z.ZodType).nullable();
  if (schema instanceof z.ZodArray) return z.array(viewField(schema.element as z.ZodType));
  if (type === "string" || type === "enum") return z.string();
  if (type === "number") return z.number();
  if (schema instanceof z.ZodUnion) {
    const options = (schema.options as z.ZodType[]).map(viewField);
    if (options.every((option) => option.def.type === "string")) return z.string();
  }
  return schema;
}

type ViewShape<S extends z.ZodRawShape, K extends keyof S> = { [P in K]: S[P] };

/**
 * An output view of some fields of a protocol schema, in the order given (the order the view shows
 * them), each described by `viewField`. Typed as the protocol's fields: what a view holds is what the
 * queue file held.
 */
export function viewShape<S extends z.ZodRawShape, const K extends readonly (keyof S & string)[]>(
  shape: S,
  keys: K,
): ViewShape<S, K[number]> {
  const fields = Object.fromEntries(keys.map((key) => [key, viewField(shape[key] as z.ZodType)]));
  return fields as unknown as ViewShape<S, K[number]>;
}
