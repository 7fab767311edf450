import { describe, expect, test } from "vitest";
import type { FileIndex } from "../../../protocol/nats-layout.ts";
import {
  jobTypeOf,
  labelMismatch,
  licenceClassesFor,
  missingResults,
} from "../../../runner/nats/dispatch-rules.ts";

type Labels = Record<string, string>;

describe("labelMismatch", () => {
  test.each<{ wanted: Labels | undefined; offered: Labels; expected: string | undefined }>([
    { wanted: undefined, offered: {}, expected: undefined },
    { wanted: {}, offered: { nx: "2512" }, expected: undefined },
    { wanted: { nx: "2512" }, offered: { nx: "2512", os: "win" }, expected: undefined },
    { wanted: { nx: "2512" }, offered: {}, expected: "needs label nx=2512, this runner has no nx" },
    {
      wanted: { nx: "2512" },
      offered: { nx: "2406" },
      expected: "needs label nx=2512, this runner has nx=2406",
    },
    {
      wanted: { nx: "2512", os: "win" },
      offered: { nx: "2512", os: "linux" },
      expected: "needs label os=win, this runner has os=linux",
    },
  ])("wanted $wanted, offered $offered", ({ wanted, offered, expected }) => {
    expect(labelMismatch(wanted, offered)).toBe(expected);
  });
});

describe("licenceClassesFor", () => {
  const job = (type: string) => JSON.stringify({ job_id: "job-x", type });
  test.each([
    {
      what: "an NX job type with the nx pool",
      sub: { job: job("optimization") },
      pools: ["nx"],
      expected: ["nx"],
    },
    { what: "an NX job type without any pool", sub: { job: job("optimization") }, pools: [], expected: [] },
    { what: "another job type", sub: { job: job("report") }, pools: ["nx"], expected: [] },
    {
      what: "classes the submission names, sorted",
      sub: { job: job("report"), licences: ["solver", "abaqus"] },
      pools: [],
      expected: ["abaqus", "solver"],
    },
    {
      what: "named and derived nx, once",
      sub: { job: job("optimization"), licences: ["nx"] },
      pools: ["nx"],
      expected: ["nx"],
    },
    { what: "a job.json that is not JSON", sub: { job: "{not json" }, pools: ["nx"], expected: [] },
  ])("$what", ({ sub, pools, expected }) => {
    expect(licenceClassesFor(sub, ["optimization"], new Set(pools))).toEqual(expected);
  });
});

test("jobTypeOf reads the type, and nothing from what is not a job object", () => {
  expect(jobTypeOf('{"type":"optimization"}')).toBe("optimization");
  expect(jobTypeOf('{"type":3}')).toBeUndefined();
  expect(jobTypeOf("[1]")).toBeUndefined();
  expect(jobTypeOf("null")).toBeUndefined();
});

describe("missingResults", () => {
  const sha = (c: string) => c.repeat(64);
  const index: FileIndex = [
    { path: "3_results/a.txt", size: 3, sha256: sha("a"), object: "j/run/3_results/a.txt" },
    { path: "stdout.log", size: 10, sha256: sha("b"), object: "j/run/stdout.log" },
  ];
  const results = (files: Array<{ path: string; size: number; sha256: string }>) => ({
    results: { files, published_at: "2026-01-01T00:00:00.000Z" },
  });
  test.each([
    { what: "no results (a refused job)", job: {}, expected: [] },
    {
      what: "all uploaded",
      job: results([{ path: "3_results/a.txt", size: 3, sha256: sha("a") }]),
      expected: [],
    },
    {
      what: "one not uploaded",
      job: results([{ path: "3_results/b.txt", size: 1, sha256: sha("c") }]),
      expected: ["3_results/b.txt"],
    },
    {
      what: "uploaded with other content",
      job: results([{ path: "stdout.log", size: 10, sha256: sha("c") }]),
      expected: ["stdout.log"],
    },
    {
      what: "uploaded with another size",
      job: results([{ path: "stdout.log", size: 11, sha256: sha("b") }]),
      expected: ["stdout.log"],
    },
  ])("$what", ({ job, expected }) => {
    expect(missingResults(job, index)).toEqual(expected);
  });
});
