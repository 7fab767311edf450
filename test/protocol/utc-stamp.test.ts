import { describe, expect, it } from "vitest";
import { parseUtcStamp, utcStamp } from "../../protocol/utc-stamp.ts";

describe("utcStamp", () => {
  it.each([
    ["2026-02-10T14:30:22.999Z", { date: "20260210", time: "143022" }],
    ["2026-12-31T23:59:59Z", { date: "20261231", time: "235959" }],
    ["1000-01-01T00:00:00Z", { date: "10000101", time: "000000" }],
  ])("formats %s in UTC", (iso, expected) => {
    expect(utcStamp(new Date(iso))).toEqual(expected);
  });

  it.each([new Date(Number.NaN), new Date("+010000-01-01T00:00:00Z"), new Date("0999-12-31T00:00:00Z")])(
    "refuses %s (invalid, or not a 4-digit year)",
    (at) => {
      expect(utcStamp(at)).toBeUndefined();
    },
  );
});

describe("parseUtcStamp", () => {
  it("reads back what utcStamp wrote", () => {
    expect(parseUtcStamp("20260210", "143022")?.toISOString()).toBe("2026-02-10T14:30:22.000Z");
  });

  it.each([
    ["20261332", "000000"],
    ["20260230", "120000"],
    ["20260210", "246000"],
    ["2026021", "0143022"],
    ["2026021x", "143022"],
  ])("refuses the impossible or malformed %s %s", (date, time) => {
    expect(parseUtcStamp(date, time)).toBeUndefined();
  });
});
