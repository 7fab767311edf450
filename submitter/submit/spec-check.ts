import type { OpenRegularOptions } from "../../protocol/index.ts";
import { isProtocolError, openRegularFile, parseJsonBytes, readBoundedBytes } from "../../protocol/index.ts";

const SPEC_MAX_BYTES = 4 * 1024 * 1024;
const REQUIRED_KEYS = [
  "meta",
  "model",
  "design_variables",
  "extractors",
  "objectives",
  "optimization",
] as const;

/** Problems with an atomizer_spec.json against the AtomizerSpec v2 top level; empty when it is fine. */
export async function checkAtomizerSpec(
  file: string,
  displayPath: string,
  options: OpenRegularOptions = {},
): Promise<string[]> {
  const handle = await openRegularFile(file, options);
  let spec: unknown;
  try {
    const { size } = await handle.stat();
    if (size > SPEC_MAX_BYTES) {
      return [`${displayPath} is ${size} bytes; a spec over ${SPEC_MAX_BYTES} bytes is not an AtomizerSpec`];
    }
    // Strict UTF-8 and bounded nesting, like every JSON file the queue carries.
    spec = parseJsonBytes(await readBoundedBytes(handle, displayPath, SPEC_MAX_BYTES), displayPath, {
      maxBytes: SPEC_MAX_BYTES,
    });
  } catch (error) {
    if (isProtocolError(error, "invalid_job")) return [error.message];
    throw error;
  } finally {
    await handle.close();
  }
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    return [`${displayPath} must be a JSON object with ${REQUIRED_KEYS.join(", ")}`];
  }
  const record = spec as Record<string, unknown>;
  const problems: string[] = [];
  const missing = REQUIRED_KEYS.filter((key) => !(key in record));
  if (missing.length > 0) {
    problems.push(`${displayPath} lacks AtomizerSpec v2 top-level keys: ${missing.join(", ")}`);
  }
  const meta = record.meta;
  if (meta !== undefined) {
    if (typeof meta !== "object" || meta === null || Array.isArray(meta)) {
      problems.push(`${displayPath}: meta must be an object with version and study_name`);
    } else {
      const { version, study_name: studyName } = meta as Record<string, unknown>;
      if (typeof version !== "string" || !/^2(\.\d+)*$/.test(version)) {
        problems.push(
          `${displayPath}: meta.version must be "2.x" (AtomizerSpec v2), got ${JSON.stringify(version)}`,
        );
      }
      if (typeof studyName !== "string" || studyName.trim() === "") {
        problems.push(`${displayPath}: meta.study_name must be a non-empty string`);
      }
    }
  }
  return problems;
}
