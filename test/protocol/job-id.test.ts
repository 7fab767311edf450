import { describe, expect, it } from "vitest";
import { isProtocolError } from "../../protocol/errors.ts";
import {
  isJobId,
  MAX_JOB_ID_LENGTH,
  MAX_SLUG_LENGTH,
  makeJobId,
  parseJobId,
  slugify,
  slugProblem,
  withCollisionSuffix,
} from "../../protocol/job-id.ts";

const AT = new Date(Date.UTC(2026, 1, 10, 14, 30, 22));

function thrown(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

describe("makeJobId", () => {
  it.each<[string, Date, string]>([
    ["StarSpec M1 WFE sweep", AT, "job-20260210-143022-starspec-m1-wfe-sweep"],
    ["wfe", AT, "job-20260210-143022-wfe"],
    ["Mirror mass", new Date(Date.UTC(2026, 2, 5, 4, 7, 9)), "job-20260305-040709-mirror-mass"],
    ["new year", new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 999)), "job-20260101-000000-new-year"],
    ["end of year", new Date(Date.UTC(2025, 11, 31, 23, 59, 59)), "job-20251231-235959-end-of-year"],
  ])("%j at %s -> %s", (name, at, expected) => {
    expect(makeJobId(name, at)).toBe(expected);
    expect(parseJobId(expected).created_at.getTime()).toBe(Math.floor(at.getTime() / 1000) * 1000);
  });

  it("formats in UTC whatever the local time zone", () => {
    const before = process.env.TZ;
    // Node re-reads TZ when it changes: 00:00:05 UTC on Jan 1 is still Dec 31 in Los Angeles.
    process.env.TZ = "America/Los_Angeles";
    try {
      const at = new Date(Date.UTC(2026, 0, 1, 0, 0, 5));
      expect(at.getDate()).toBe(31);
      expect(makeJobId("starspec wfe", at)).toBe("job-20260101-000005-starspec-wfe");
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });

  it.each([new Date(Number.NaN), new Date(Date.UTC(12026, 0, 1)), new Date(Date.UTC(999, 0, 1))])(
    "refuses a submission time that cannot make an id (%s)",
    (at) => {
      const error = thrown(() => makeJobId("starspec wfe", at));
      expect(isProtocolError(error, "invalid_job_id")).toBe(true);
      expect(error.message).toMatch(/"starspec wfe".*not a valid date/);
    },
  );

  it("refuses a non-descriptive name before making an id", () => {
    expect(
      isProtocolError(
        thrown(() => makeJobId("job 1", AT)),
        "invalid_name",
      ),
    ).toBe(true);
  });
});

describe("slugify", () => {
  it.each<[string, string]>([
    ["StarSpec M1 WFE sweep", "starspec-m1-wfe-sweep"],
    ["Crème Brûlée", "creme-brulee"],
    ["Spiegel Ärger Öl", "spiegel-arger-ol"],
    ["ÅNGSTRÖM résumé", "angstrom-resume"],
    ["  --M1 mirror!!  ", "m1-mirror"],
    ["a_b.c d/e\\f:g", "a-b-c-d-e-f-g"],
    ["mass: 12.5kg (v2)", "mass-12-5kg-v2"],
    ["Ｆｕｌｌｗｉｄｔｈ", "fullwidth"],
    ["alpha ".repeat(20), "alpha-alpha-alpha-alpha-alpha-alpha-alpha-al"],
    // The cut lands on a hyphen, which is dropped rather than left dangling.
    ["abcdefghij ".repeat(6), "abcdefghij-abcdefghij-abcdefghij-abcdefghij"],
  ])("%j -> %j", (name, slug) => {
    expect(slugify(name)).toBe(slug);
    expect(slug.length).toBeLessThanOrEqual(MAX_SLUG_LENGTH);
    expect(slugProblem(slug)).toBeUndefined();
  });

  it.each([
    "job-1",
    "Job 1",
    "test",
    "TEST",
    "run2",
    "run-2",
    "x",
    "123",
    "",
    "!!!",
    "- _ -",
    "ab 12",
    "tmp",
    "study 3",
    "CON",
    "aux",
  ])("refuses %j, saying why and quoting the name", (name) => {
    const error = thrown(() => slugify(name));
    expect(isProtocolError(error, "invalid_name")).toBe(true);
    expect(error.message).toContain(`job name ${JSON.stringify(name)}`);
    expect(error.message).toMatch(/not descriptive|must be lowercase|reserved on Windows/);
  });
});

describe("slugProblem", () => {
  it.each<[string, RegExp]>([
    ["job-1", /not descriptive \(SYS_19 rule 3\)/],
    ["test", /not descriptive/],
    ["run2", /not descriptive/],
    ["x", /not descriptive/],
    ["123", /not descriptive/],
    ["", /must be lowercase letters, digits and single hyphens/],
    ["Upper", /must be lowercase/],
    ["a--b-c", /must be lowercase/],
    ["-abc", /must be lowercase/],
    ["abc-", /must be lowercase/],
    ["größe", /must be lowercase/],
    ["a".repeat(MAX_SLUG_LENGTH + 1), /longer than 44 characters/],
    ["con", /reserved on Windows/],
  ])("%j: %s", (slug, problem) => {
    expect(slugProblem(slug)).toMatch(problem);
  });

  it.each(["wfe", "starspec-m1-wfe", "m1-mirror-2", "a".repeat(MAX_SLUG_LENGTH), "con-rod", "testbench-run"])(
    "accepts %j",
    (slug) => {
      expect(slugProblem(slug)).toBeUndefined();
    },
  );
});

describe("parseJobId", () => {
  it("splits a valid id into its UTC time and slug", () => {
    expect(parseJobId("job-20260210-143022-starspec-wfe")).toEqual({
      job_id: "job-20260210-143022-starspec-wfe",
      created_at: AT,
      slug: "starspec-wfe",
    });
    expect(isJobId("job-20260210-143022-wfe")).toBe(true);
  });

  it.each<[string, string, RegExp]>([
    ["uppercase prefix", "JOB-20260210-143022-wfe", /is not a job id: expected job-YYYYMMDD-HHMMSS-/],
    ["uppercase slug", "job-20260210-143022-WFE", /is not a job id/],
    ["month 13, day 32", "job-20261332-143022-wfe", /impossible date or time/],
    ["February 30", "job-20260230-143022-wfe", /impossible date or time/],
    ["February 29 of a common year", "job-20250229-143022-wfe", /impossible date or time/],
    ["hour 24", "job-20260210-240000-wfe", /impossible date or time/],
    ["second 60", "job-20260210-143060-wfe", /impossible date or time/],
    ["a short date", "job-2026021-143022-wfe", /is not a job id/],
    ["no separator", "job-20260210143022-wfe", /is not a job id/],
    ["no slug", "job-20260210-143022", /is not a job id/],
    ["an empty slug", "job-20260210-143022-", /is not a job id/],
    ["a folder name with a path", "job-20260210-143022-wfe/x", /is not a job id/],
    ["the archive suffix", "job-20260210-143022-wfe-20260210T150000Z", /is not a job id/],
    ["a generic slug", "job-20260210-143022-test", /slug "test" is not descriptive/],
    ["too long", `job-20260210-143022-${"a".repeat(MAX_SLUG_LENGTH + 1)}`, /at most 64 characters/],
    ["empty", "", /is not a job id/],
  ])("refuses %s", (_what, jobId, problem) => {
    const error = thrown(() => parseJobId(jobId));
    expect(isProtocolError(error, "invalid_job_id")).toBe(true);
    expect(error.message).toContain(JSON.stringify(jobId));
    expect(error.message).toMatch(problem);
    expect(isJobId(jobId)).toBe(false);
  });

  it("accepts February 29 of a leap year", () => {
    expect(parseJobId("job-20280229-000000-leap-day").created_at).toEqual(new Date(Date.UTC(2028, 1, 29)));
  });
});

describe("withCollisionSuffix", () => {
  const longest = `job-20260210-143022-${"abcdefghi-".repeat(4)}abcd`;

  it.each<[string, number, string]>([
    ["job-20260210-143022-wfe", 2, "job-20260210-143022-wfe-2"],
    ["job-20260210-143022-wfe", 17, "job-20260210-143022-wfe-17"],
    [longest, 2, `job-20260210-143022-${"abcdefghi-".repeat(4)}ab-2`],
    // Cutting to make room would leave "...-abcdefghi-": the dangling hyphen goes.
    [longest, 100, `job-20260210-143022-${"abcdefghi-".repeat(3)}abcdefghi-100`],
  ])("%s + %i -> %s", (jobId, attempt, expected) => {
    expect(longest).toHaveLength(MAX_JOB_ID_LENGTH);
    const suffixed = withCollisionSuffix(jobId, attempt);
    expect(suffixed).toBe(expected);
    expect(suffixed.length).toBeLessThanOrEqual(MAX_JOB_ID_LENGTH);
    expect(isJobId(suffixed)).toBe(true);
    expect(suffixed).not.toBe(jobId);
  });
});
