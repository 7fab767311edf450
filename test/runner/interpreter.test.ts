import path from "node:path";
import { expect, test } from "vitest";
import { chooseInterpreter } from "../../runner/interpreter.ts";
import { localPath, runnerPaths, toRelativePosix } from "../../runner/paths.ts";

test.each([
  {
    script: "/w/job/run.py",
    platform: "linux",
    args: ["--start"],
    command: "python3",
    argv: ["/w/job/run.py", "--start"],
  },
  {
    script: "C:\\w\\job\\RUN.PY",
    platform: "win32",
    args: ["a b"],
    command: "python3",
    argv: ["C:\\w\\job\\RUN.PY", "a b"],
  },
  {
    script: "C:\\w\\job\\solve.bat",
    platform: "win32",
    args: ["--mesh", "fine mesh"],
    command: "cmd.exe",
    argv: ["/d", "/s", "/c", '""C:\\w\\job\\solve.bat" "--mesh" "fine mesh""'],
  },
  {
    script: "C:\\w\\job\\solve.cmd",
    platform: "win32",
    args: [],
    command: "cmd.exe",
    argv: ["/d", "/s", "/c", '""C:\\w\\job\\solve.cmd""'],
  },
] as const)("$script on $platform runs as $command", ({ script, platform, args, command, argv }) => {
  const choice = chooseInterpreter(script, args, { python: "python3", platform });
  expect(choice).toMatchObject({ ok: true, invocation: { command, args: argv } });
});

test.each([
  { script: "/w/job/run.sh", platform: "linux", problem: "script type .sh is not supported" },
  { script: "/w/job/run", platform: "linux", problem: "(no extension)" },
  { script: "/w/job/solve.bat", platform: "linux", problem: "Windows batch file" },
  { script: "C:\\w\\job\\run.exe", platform: "win32", problem: "or a .bat/.cmd file" },
] as const)("$script on $platform is refused", ({ script, platform, problem }) => {
  const choice = chooseInterpreter(script, [], { python: "python3", platform });
  expect(choice.ok).toBe(false);
  if (!choice.ok) expect(choice.problem).toContain(problem);
});

test.each(["a&b", "100%", "x|y", 'say "hi"', "a\nb", "!var!", "^"])(
  "a batch argument %j that cmd.exe would interpret is refused",
  (arg) => {
    const choice = chooseInterpreter("C:\\job\\solve.bat", [arg], { python: "python", platform: "win32" });
    expect(choice.ok).toBe(false);
  },
);

test("job-relative paths become correct Windows paths under path.win32", () => {
  expect(localPath("C:\\Atomizer\\work\\job-20260210-143022-wfe", "1_setup/m1_mirror.prt", path.win32)).toBe(
    "C:\\Atomizer\\work\\job-20260210-143022-wfe\\1_setup\\m1_mirror.prt",
  );
  expect(toRelativePosix("C:\\w\\job", "C:\\w\\job\\3_results\\study.db", path.win32)).toBe(
    "3_results/study.db",
  );
  const paths = runnerPaths("C:\\Atomizer\\job-queue", "D:\\atomizer-work", "D:\\atomizer-state", path.win32);
  expect(paths.inboxJob("job-20260210-143022-wfe")).toBe(
    "C:\\Atomizer\\job-queue\\inbox\\job-20260210-143022-wfe",
  );
  expect(paths.cancelRequest("job-20260210-143022-wfe")).toBe(
    "C:\\Atomizer\\job-queue\\outbox\\.cancel\\job-20260210-143022-wfe.json",
  );
  expect(paths.workResults("job-20260210-143022-wfe")).toBe(
    "D:\\atomizer-work\\job-20260210-143022-wfe\\3_results",
  );
  expect(paths.runnerHeartbeat("nx-ws1")).toBe("C:\\Atomizer\\job-queue\\inbox\\.runners\\nx-ws1.json");
});

test.each(["C:\\job\\run%PATH%.bat", "C:\\job\\a!b.cmd", "C:\\job\\x^y.bat", "C:\\100% done\\run.bat"])(
  "a batch script whose path cmd.exe would expand is refused: %s",
  (script) => {
    const choice = chooseInterpreter(script, [], { python: "python", platform: "win32" });
    expect(choice.ok).toBe(false);
    if (!choice.ok) expect(choice.problem).toContain("holds a character cmd.exe interprets");
  },
);
