import path from "node:path";
import { describe, expect, it } from "vitest";
import { isInsideFolder } from "../../protocol/index.ts";

const root = path.join(path.sep, "srv", "queue");

describe("isInsideFolder", () => {
  it.each([
    [root, true],
    [path.join(root, "outbox", "job"), true],
    // A folder whose name starts with two dots is inside: only a ".." segment leads out.
    [path.join(root, "..keys", "submitter.key"), true],
    [path.join(root, "..."), true],
    [path.dirname(root), false],
    [path.join(path.dirname(root), "queue-other"), false],
    [path.join(root, "..", "keys"), false],
    [path.join(path.sep, "elsewhere"), false],
  ])("%s: %s", (target, inside) => {
    expect(isInsideFolder(root, target)).toBe(inside);
  });
});
