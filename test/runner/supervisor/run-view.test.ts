import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { writeRunFile } from "../../../runner/supervisor/run-folder.ts";
import { inspectRun } from "../../../runner/supervisor/run-view.ts";

// Which attempt a run folder is at, and which records belong to it: a state or outcome of another
// attempt (a supervisor left from a withdrawn one) is never taken for the current one's.

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "atomizer-run-view-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const T1 = "aaaaaaaaaaaaaaaaaaaaaaaa";
const T2 = "bbbbbbbbbbbbbbbbbbbbbbbb";
const at = new Date().toISOString();

function spec(token: string) {
  return {
    job_id: "job-20260101-000000-view",
    run_token: token,
    command: "python3",
    args: ["x.py"],
    windows_verbatim: false,
    cwd: "/work/job",
    log_path: "/work/job/stdout.log",
    created_at: at,
  };
}
const state = (token: string) => ({
  job_id: "job-20260101-000000-view",
  run_token: token,
  supervisor: { pid: 4242, start: null },
});
const outcome = (token: string) => ({
  job_id: "job-20260101-000000-view",
  run_token: token,
  exit_code: 0,
  signal: null,
  ended_at: at,
});

test.each([
  {
    name: "an attempt requested; a withdrawn attempt's supervisor recorded itself since",
    files: {
      [`spec.${T2}.json`]: spec(T2),
      [`state.${T1}.json`]: state(T1),
      [`outcome.${T1}.json`]: outcome(T1),
    },
    want: { token: T2, launched: false, abandoned: false, state: false, outcome: false },
  },
  {
    name: "an attempt launched and ended",
    files: {
      [`launched.${T2}.json`]: spec(T2),
      [`state.${T2}.json`]: state(T2),
      [`outcome.${T2}.json`]: outcome(T2),
    },
    want: { token: T2, launched: true, abandoned: false, state: true, outcome: true },
  },
  {
    name: "a withdrawn attempt and the next one claimed",
    files: {
      [`abandoned.${T1}.json`]: spec(T1),
      [`claimed.${T2}.json`]: spec(T2),
      [`state.${T2}.json`]: state(T2),
    },
    want: { token: T2, launched: false, abandoned: false, state: true, outcome: false },
  },
  {
    name: "a tokened attempt beside plain records of an older runner",
    files: { [`spec.${T2}.json`]: spec(T2), "state.json": state(T2), "outcome.json": outcome(T2) },
    want: { token: T2, launched: false, abandoned: false, state: false, outcome: false },
  },
  {
    name: "before tokens: launched and ended",
    files: { "launched.json": spec(T1), "state.json": state(T1), "outcome.json": outcome(T1) },
    want: { token: undefined, launched: true, abandoned: false, state: true, outcome: true },
  },
  {
    name: "before tokens: claimed, with a state another attempt's supervisor wrote",
    files: { "claimed.json": spec(T2), "state.json": state(T1) },
    want: { token: undefined, launched: false, abandoned: false, state: false, outcome: false },
  },
  {
    name: "before tokens: withdrawn",
    files: { "abandoned.json": spec(T1) },
    want: { token: undefined, launched: false, abandoned: true, state: false, outcome: false },
  },
])("inspectRun: $name", async ({ files, want }) => {
  await mkdir(dir, { recursive: true });
  for (const [name, value] of Object.entries(files)) await writeRunFile(path.join(dir, name), value);
  const view = await inspectRun(dir);
  expect({
    token: view.token,
    launched: view.launched,
    abandoned: view.abandoned,
    state: view.state !== undefined,
    outcome: view.outcome !== undefined,
  }).toEqual(want);
  expect(view.spec?.run_token).toBe(want.token ?? Object.values(files)[0]?.run_token);
});

test("inspectRun of a folder with nothing requested sees nothing", async () => {
  expect(await inspectRun(path.join(dir, "never-made"))).toEqual({ launched: false, abandoned: false });
});
