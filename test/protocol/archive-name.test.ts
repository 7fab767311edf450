import { describe, expect, it } from "vitest";
import { archiveDirName, parseArchiveDirName } from "../../protocol/archive-name.ts";

describe("archiveDirName", () => {
  it.each<[string, string, string]>([
    [
      "job-20260210-143022-starspec-wfe",
      "2026-02-11T09:05:07.123Z",
      "job-20260210-143022-starspec-wfe-20260211T090507Z",
    ],
    ["job-20260210-143022-a-2", "2026-12-31T23:59:59.999Z", "job-20260210-143022-a-2-20261231T235959Z"],
  ])("%s at %s -> %s", (jobId, at, expected) => {
    expect(archiveDirName(jobId, new Date(at))).toBe(expected);
  });

  it("parses back to the job id and the second it was archived", () => {
    const name = archiveDirName("job-20260210-143022-starspec-wfe", new Date("2026-02-11T09:05:07.500Z"));
    expect(parseArchiveDirName(name)).toEqual({
      job_id: "job-20260210-143022-starspec-wfe",
      archived_at: "2026-02-11T09:05:07Z",
    });
  });
});

describe("parseArchiveDirName", () => {
  it.each([
    "job-20260210-143022-starspec-wfe",
    "job-20260210-143022-starspec-wfe-20260211T090507",
    "job-20260210-143022-starspec-wfe-20260211-090507Z",
    "-20260211T090507Z",
    "job-20260210-143022-starspec-wfe-20260211T090507Z.tmp",
  ])("%s is not an archive folder name", (name) => {
    expect(parseArchiveDirName(name)).toBeUndefined();
  });
});
