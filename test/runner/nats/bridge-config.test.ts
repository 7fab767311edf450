import { describe, expect, test } from "vitest";
import { parseLabels, parseLicences, UsageError } from "../../../cli/runner/options.ts";
import { RunnerConfigSchema } from "../../../runner/config.ts";
import { leaseTickMs, NatsRunnerSchema } from "../../../runner/nats/bridge-config.ts";
import { runAtomizerJobs } from "../../helpers/atomizer-jobs.ts";

// How `runner --nats ...` reaches the bridge: the option parsers, the settings schema and its defaults.
// (The parsers live in cli/runner/options.ts; these cases sit here with the bridge they feed.)

describe("--labels and --licences", () => {
  test.each([
    { text: "nx=2512,os=win", expected: { nx: "2512", os: "win" } },
    { text: " nx = 2512 , ", expected: { nx: "2512" } },
    { text: "", expected: {} },
  ])("--labels $text", ({ text, expected }) => {
    expect(parseLabels(text)).toEqual(expected);
  });
  test.each([
    { text: "nx", problem: "name=value pairs" },
    { text: "=3", problem: "name=value pairs" },
    { text: "NX=1", problem: "lowercase letter" },
    { text: "nx=1,nx=2", problem: "names nx twice" },
  ])("--labels $text is refused: $problem", ({ text, problem }) => {
    expect(() => parseLabels(text)).toThrow(UsageError);
    expect(() => parseLabels(text)).toThrow(problem);
  });
  test("--licences takes whole numbers, 0 or more", () => {
    expect(parseLicences("nx=4,abaqus=0")).toEqual({ nx: 4, abaqus: 0 });
    expect(() => parseLicences("nx=1.5")).toThrow("whole number");
    expect(() => parseLicences("nx=-1")).toThrow("whole number");
    expect(parseLicences(undefined)).toBeUndefined();
  });
});

test("the runner's settings carry the NATS part with its defaults", () => {
  const config = RunnerConfigSchema.parse({
    queueDir: "q",
    workDir: "w",
    stateDir: "s",
    nats: { url: "nats://h:4222" },
  });
  expect(config.nats).toEqual({
    url: "nats://h:4222",
    labels: {},
    leaseS: 600,
    nakDelayS: 2,
    republishS: 300,
    downloadTries: 5,
    downloadRetryS: 4,
  });
  expect(RunnerConfigSchema.parse({ queueDir: "q", workDir: "w", stateDir: "s" }).nats).toBeUndefined();
  expect(NatsRunnerSchema.safeParse({ url: "nats://h", labels: { "Bad Name": "x" } }).success).toBe(false);
});

test.each([
  { leaseS: 600, tick: 5000 },
  { leaseS: 6, tick: 1000 },
  { leaseS: 0.1, tick: 50 },
])("lease $leaseS s is looked after every $tick ms", ({ leaseS, tick }) => {
  expect(leaseTickMs(leaseS)).toBe(tick);
});

test.each([
  { args: ["--labels", "nx=1"], stderr: "--labels only apply with --nats URL" },
  { args: ["--nats", "nats://127.0.0.1:4222", "--once"], stderr: "--once does not apply with --nats" },
  { args: ["--nats", "nats://user:secret@127.0.0.1:4222"], stderr: "carries a user, password or token" },
  { args: ["--nats", "http://127.0.0.1:4222"], stderr: "use nats://host:4222" },
  { args: ["--nats", "nats://127.0.0.1:4222", "--licences", "nx=many"], stderr: "whole number of licences" },
])("runner $args exits 2 with a reason", async ({ args, stderr }) => {
  const run = await runAtomizerJobs([
    "runner",
    "--work",
    "/nonexistent/w",
    "--state",
    "/nonexistent/s",
    ...args,
  ]);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(stderr);
  expect(run.stderr).not.toContain("secret");
});
