import { join } from "node:path";
import type { HashedFile, ReadBuffers } from "../../protocol/index.ts";
import { copyAndHashFile, isProtocolError } from "../../protocol/index.ts";
import { OperationError } from "../operations/operation-error.ts";

/**
 * Copies one study file into the staged job, hashing it on the way. The source must still be a regular
 * file really inside study_dir when it is opened: a file (or a folder on its way) swapped for a link
 * to ~/.ssh/id_rsa, outside --allow, after the checks ran is refused, never shipped. `buffers` is one
 * pair for the whole submission (readBuffers()).
 */
export async function copyStudyFile(
  source: string,
  path: string,
  staging: string,
  studyRoot: string,
  buffers: ReadBuffers,
): Promise<HashedFile> {
  try {
    return await copyAndHashFile(source, join(staging, ...path.split("/")), { within: studyRoot, buffers });
  } catch (error) {
    if (isProtocolError(error, "unsafe_file")) {
      throw new OperationError(
        "invalid_argument",
        `submission refused, nothing was published: ${path} changed while it was being copied: ${error.message}`,
        "keep the study folder still while submitting (no links swapped in), then submit again",
        { path },
      );
    }
    throw error;
  }
}
