import { describe, expect, it } from "vitest";
import type { PathRule } from "../../protocol/path-rules.ts";
import {
  checkJobPath,
  checkJobPaths,
  MAX_RELATIVE_PATH_LENGTH,
  windowsNameProblem,
} from "../../protocol/path-rules.ts";

/** [path, rule, words the message must use to explain the rule] */
type RefusedPath = [string, PathRule, RegExp];

const REFUSED: RefusedPath[] = [
  ["", "empty", /empty/],
  ["..", "dot_segment", /'\.\.'.*inside the job folder/],
  ["a/../b", "dot_segment", /'\.\.'/],
  ["./a", "dot_segment", /'\.'/],
  ["a/.", "dot_segment", /'\.'/],
  ["/etc/passwd", "absolute_path", /absolute/],
  ["C:\\x", "drive_letter", /drive letter/],
  ["C:/x", "drive_letter", /drive letter/],
  ["c:x", "drive_letter", /drive letter/],
  ["\\\\server\\share\\x", "unc_path", /UNC/],
  ["//server/share", "unc_path", /UNC/],
  ["a\\b", "backslash", /backslash/],
  ["a\u0000b", "control_char", /control character/],
  ["a\nb", "control_char", /control character/],
  ["a\tb", "control_char", /control character/],
  ["dir/a\u001fb", "control_char", /control character/],
  ["a\u007fb", "control_char", /control character/],
  ...[...'<>:"|?*'].map(
    (char): RefusedPath => [
      `1_setup/model${char}1.prt`,
      "invalid_char",
      new RegExp(`contains ${JSON.stringify(char).replace(/[|?*\\]/g, "\\$&")}, which Windows refuses`),
    ],
  ),
  ...["CON", "con", "NUL", "nul.txt", "COM1", "com1.log", "LPT9", "COM0", "aux.tar.gz", "PRN", "COM¹"].map(
    (name): RefusedPath => [name, "reserved_name", /reserved on Windows/],
  ),
  ["1_setup/Aux.prt", "reserved_name", /reserved on Windows \(AUX\), even with an extension/],
  ["con/model.prt", "reserved_name", /reserved on Windows \(CON\)/],
  ["a.", "trailing_dot_or_space", /ends with a dot or space/],
  ["a ", "trailing_dot_or_space", /ends with a dot or space/],
  ["dir./a", "trailing_dot_or_space", /"dir\." ends with a dot or space/],
  ["dir /a", "trailing_dot_or_space", /ends with a dot or space/],
  ["a//b", "empty_segment", /empty segment/],
  ["a/", "empty_segment", /trailing '\/'/],
  [".stignore", "syncthing_name", /Syncthing reserves or ignores/],
  [".stfolder", "syncthing_name", /Syncthing reserves or ignores/],
  ["sub/.stversions/a.prt", "syncthing_name", /Syncthing reserves or ignores/],
  [".syncthing.x.tmp", "syncthing_name", /Syncthing reserves or ignores/],
  ["~syncthing~x.tmp", "syncthing_name", /Syncthing reserves or ignores/],
  ["a.sync-conflict-20260210-143022-ABCDEF7.prt", "syncthing_name", /Syncthing reserves or ignores/],
  // Names the queue's own .stignore excludes never arrive either.
  ["__pycache__/helpers.cpython-312.pyc", "syncthing_name", /\.stignore pattern "__pycache__"/],
  [".DS_Store", "syncthing_name", /\.stignore pattern/],
  ["1_setup/Thumbs.db", "syncthing_name", /\.stignore pattern "Thumbs\.db"/],
  ["1_setup/thumbs.DB", "syncthing_name", /\.stignore pattern/],
  ["desktop.ini", "syncthing_name", /\.stignore pattern/],
  ["._model.prt", "syncthing_name", /\.stignore pattern "\._\*"/],
  ["~$report.docx", "syncthing_name", /\.stignore pattern/],
  [".atomizer-job.json.1-ab.tmp", "syncthing_name", /\.stignore pattern/],
  ["job.json", "reserved_job_file", /written by the queue itself/],
  ["a".repeat(MAX_RELATIVE_PATH_LENGTH + 1), "too_long", /is 121 characters; at most 120/],
  [`1_setup/${"b".repeat(113)}`, "too_long", /is 121 characters/],
];

const ACCEPTED = [
  "1_setup/m1_mirror_fem1_i.prt",
  "README.md",
  "run_optimization.py",
  "atomizer_spec.json",
  "con_rod.prt",
  "console.log",
  "connector/contact.sim",
  "COM10",
  "lpt.txt",
  "a.b.c",
  "spiegel-größe.prt",
  "1_setup/Ölwanne spiegel.fem",
  "ミラー/鏡.prt",
  "sub/job.json",
  "2_iterations/.keep",
  "a.sync-conflict-notes.txt",
  "syncthing.tmp",
  "a".repeat(MAX_RELATIVE_PATH_LENGTH),
];

describe("checkJobPath refusals", () => {
  it.each(REFUSED)("refuses %j by rule %s", (path, rule, explanation) => {
    const violation = checkJobPath(path);
    expect(violation).toBeDefined();
    expect(violation?.rule).toBe(rule);
    expect(violation?.path).toBe(path);
    // The message starts by quoting the offending path, then says which rule it breaks.
    expect(violation?.message.startsWith(`${JSON.stringify(path)}: `)).toBe(true);
    expect(violation?.message).toMatch(explanation);
  });

  it("reports a path refused alone through checkJobPaths too", () => {
    const violations = checkJobPaths(["README.md", "..", "CON", "ok/fine.prt"]);
    expect(violations.map((v) => [v.path, v.rule])).toEqual([
      ["..", "dot_segment"],
      ["CON", "reserved_name"],
    ]);
  });
});

describe("checkJobPath acceptances", () => {
  it.each(ACCEPTED)("accepts %j", (path) => {
    expect(checkJobPath(path)).toBeUndefined();
  });

  it("accepts the whole set together", () => {
    expect(checkJobPaths(ACCEPTED)).toEqual([]);
    expect(checkJobPaths([])).toEqual([]);
  });
});

describe("checkJobPaths across paths", () => {
  it.each<[string, string[], string, RegExp]>([
    ["files differing only in case", ["A.prt", "a.prt"], "a.prt", /differs from "A\.prt" only in case/],
    [
      "folders differing only in case",
      ["Dir/x", "dir/y"],
      "dir/y",
      /folder "dir" differs from "Dir" only in case/,
    ],
    [
      "nested folders differing only in case",
      ["s/Setup/a.prt", "s/setup/b.prt"],
      "s/setup/b.prt",
      /folder "s\/setup" differs from "s\/Setup"/,
    ],
    ["a file also used as a folder", ["a", "a/b"], "a", /is a file, but "a" is also used as a folder/],
    ["a folder also used as a file", ["a/b", "a"], "a", /is a file, but "a" is also used as a folder/],
    ["a file and folder differing in case", ["Model", "model/x.prt"], "Model", /is a file, but "model"/],
    ["the same path twice", ["x.prt", "x.prt"], "x.prt", /listed twice/],
  ])("refuses %s", (_what, paths, offending, explanation) => {
    const violations = checkJobPaths(paths);
    expect(violations).toHaveLength(1);
    expect(violations[0]?.rule).toBe("case_clash");
    expect(violations[0]?.path).toBe(offending);
    expect(violations[0]?.message.startsWith(`${JSON.stringify(offending)}: `)).toBe(true);
    expect(violations[0]?.message).toMatch(explanation);
  });

  it("accepts files that share folders spelled the same way", () => {
    expect(checkJobPaths(["1_setup/a.prt", "1_setup/b.prt", "1_setup/sub/c.fem", "2_setup/a.prt"])).toEqual(
      [],
    );
  });
});

describe("windowsNameProblem", () => {
  it.each<[string, PathRule | undefined]>([
    ["model.prt", undefined],
    ["con_rod", undefined],
    ["CON", "reserved_name"],
    ["con .txt", "reserved_name"],
    ["lpt0.log", "reserved_name"],
    ["a?", "invalid_char"],
    ["a\u0001", "control_char"],
    ["name.", "trailing_dot_or_space"],
  ])("%j -> %s", (name, rule) => {
    expect(windowsNameProblem(name)?.rule).toBe(rule);
  });
});
