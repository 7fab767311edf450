import { MAX_NAME_BYTES, MAX_PATH_BYTES, MAX_RELATIVE_PATH_LENGTH } from "./limits.ts";
import { JOB_FILE, STIGNORE_LINES } from "./queue-layout.ts";
import { isConflictCopy, isSyncthingArtefact } from "./syncthing-names.ts";

export { MAX_RELATIVE_PATH_LENGTH } from "./limits.ts";

export type PathRule =
  | "empty"
  | "backslash"
  | "absolute_path"
  | "drive_letter"
  | "unc_path"
  | "control_char"
  | "dot_segment"
  | "empty_segment"
  | "invalid_char"
  | "reserved_name"
  | "trailing_dot_or_space"
  | "too_long"
  | "syncthing_name"
  | "reserved_job_file"
  | "case_clash";

export interface PathViolation {
  path: string;
  rule: PathRule;
  message: string;
}

const RESERVED_BASENAMES = new Set([
  "con",
  "prn",
  "aux",
  "nul",
  ...Array.from({ length: 10 }, (_, i) => `com${i}`),
  ...Array.from({ length: 10 }, (_, i) => `lpt${i}`),
  // Windows also reserves COM/LPT with superscript digits.
  ...["¹", "²", "³"].flatMap((d) => [`com${d}`, `lpt${d}`]),
]);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const WINDOWS_INVALID_CHARS = /[<>:"|?*]/;

function globToRegExp(glob: string): RegExp {
  const source = glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  // Syncthing matches ignore patterns case-insensitively on Windows, where the runner receives the job.
  return new RegExp(`^${source}$`, "i");
}

// Names the queue's own .stignore excludes: Syncthing never delivers such a file, so a job listing one
// would wait for it until the grace period ran out. Derived from STIGNORE_LINES so the two never drift.
const STIGNORED_NAMES = STIGNORE_LINES.filter((line) => !line.startsWith("//")).map((line) => {
  const glob = line.replace(/^\(\?d\)/, "");
  return { glob, pattern: globToRegExp(glob) };
});

function violation(path: string, rule: PathRule, detail: string): PathViolation {
  return { path, rule, message: `${JSON.stringify(path)}: ${detail}` };
}

/** Whether a single name (file or folder) is one Windows refuses to create. */
export function windowsNameProblem(name: string): { rule: PathRule; detail: string } | undefined {
  if (CONTROL_CHARS.test(name)) {
    return { rule: "control_char", detail: "contains a control character (NUL, newline, tab, ...)" };
  }
  const bad = WINDOWS_INVALID_CHARS.exec(name);
  if (bad) {
    return {
      rule: "invalid_char",
      detail: `contains ${JSON.stringify(bad[0])}, which Windows refuses in names`,
    };
  }
  if (name.endsWith(".") || name.endsWith(" ")) {
    return { rule: "trailing_dot_or_space", detail: `name ${JSON.stringify(name)} ends with a dot or space` };
  }
  const stem = (name.split(".")[0] ?? "").trimEnd().toLowerCase();
  if (RESERVED_BASENAMES.has(stem)) {
    return {
      rule: "reserved_name",
      detail: `name ${JSON.stringify(name)} is reserved on Windows (${stem.toUpperCase()}), even with an extension`,
    };
  }
  return undefined;
}

/**
 * Checks one job-relative file path against protocol v1: relative POSIX paths that every side of a
 * Syncthing share (Linux and Windows) can hold. Syncthing never delivers a file Windows refuses, so a
 * job holding one would wait for it forever.
 */
export function checkJobPath(path: string): PathViolation | undefined {
  if (path.length === 0) return violation(path, "empty", "path is empty");
  // First, before any rule scans the text or anything touches the disk: a path of megabytes is refused
  // in constant time, and no fs call ever fails with ENAMETOOLONG on a listed path. (A UTF-16 unit is
  // at most 3 UTF-8 bytes, so a string this short in units cannot be over the byte limit.)
  if (path.length * 3 > MAX_PATH_BYTES && Buffer.byteLength(path, "utf8") > MAX_PATH_BYTES) {
    return {
      path: `${path.slice(0, 80)}...`,
      rule: "too_long",
      message: `${JSON.stringify(path.slice(0, 80))}... is ${Buffer.byteLength(path, "utf8")} bytes; a job path may be at most ${MAX_PATH_BYTES} bytes (MAX_PATH_BYTES) and ${MAX_RELATIVE_PATH_LENGTH} characters: shorten it`,
    };
  }
  if (path.startsWith("\\\\") || path.startsWith("//")) {
    return violation(path, "unc_path", "is a UNC/network path; use a path relative to the job folder");
  }
  if (/^[A-Za-z]:/.test(path)) {
    return violation(
      path,
      "drive_letter",
      "starts with a drive letter; use a path relative to the job folder",
    );
  }
  if (path.includes("\\")) {
    return violation(path, "backslash", "contains a backslash; write relative paths with forward slashes");
  }
  if (path.startsWith("/")) {
    return violation(path, "absolute_path", "is absolute; use a path relative to the job folder");
  }
  if (path.length > MAX_RELATIVE_PATH_LENGTH) {
    return violation(
      path,
      "too_long",
      `is ${path.length} characters; at most ${MAX_RELATIVE_PATH_LENGTH} fit a default Windows path limit (260)`,
    );
  }
  const segments = path.split("/");
  for (const segment of segments) {
    if (segment === "")
      return violation(path, "empty_segment", "has an empty segment ('//' or a trailing '/')");
    if (segment === "." || segment === "..") {
      return violation(path, "dot_segment", `contains '${segment}'; paths must stay inside the job folder`);
    }
    const problem = windowsNameProblem(segment);
    if (problem) return violation(path, problem.rule, problem.detail);
    if (segment.length * 3 > MAX_NAME_BYTES && Buffer.byteLength(segment, "utf8") > MAX_NAME_BYTES) {
      return violation(
        path,
        "too_long",
        `name ${JSON.stringify(segment.slice(0, 40))}... is ${Buffer.byteLength(segment, "utf8")} bytes in UTF-8; Linux filesystems hold at most ${MAX_NAME_BYTES} (MAX_NAME_BYTES): shorten it`,
      );
    }
    if (isSyncthingArtefact(segment) || isConflictCopy(segment)) {
      return violation(path, "syncthing_name", `uses a name Syncthing reserves or ignores (${segment})`);
    }
    const ignored = STIGNORED_NAMES.find(({ pattern }) => pattern.test(segment));
    if (ignored) {
      return violation(
        path,
        "syncthing_name",
        `${JSON.stringify(segment)} matches the queue's .stignore pattern ${JSON.stringify(ignored.glob)}, ` +
          "so Syncthing never delivers it; remove it from the job folder",
      );
    }
  }
  if (path === JOB_FILE) {
    return violation(path, "reserved_job_file", "job.json at the job root is written by the queue itself");
  }
  return undefined;
}

/**
 * Checks a whole set of job paths: each one alone, then names that differ only in case (Windows
 * folds case, so one would overwrite the other) and a file that is also used as a folder.
 */
export function checkJobPaths(paths: readonly string[]): PathViolation[] {
  const violations: PathViolation[] = [];
  const seen = new Map<string, string>();
  const folders = new Map<string, string>();
  for (const path of paths) {
    const single = checkJobPath(path);
    if (single) {
      violations.push(single);
      continue;
    }
    const folded = path.toLowerCase();
    const other = seen.get(folded);
    if (other !== undefined) {
      violations.push(
        violation(
          path,
          "case_clash",
          other === path
            ? "is listed twice"
            : `differs from ${JSON.stringify(other)} only in case; Windows cannot hold both`,
        ),
      );
      continue;
    }
    seen.set(folded, path);
    const segments = path.split("/");
    for (let i = 1; i < segments.length; i++) {
      const folder = segments.slice(0, i).join("/");
      const foldedFolder = folder.toLowerCase();
      const known = folders.get(foldedFolder);
      if (known !== undefined && known !== folder) {
        violations.push(
          violation(
            path,
            "case_clash",
            `folder ${JSON.stringify(folder)} differs from ${JSON.stringify(known)} only in case`,
          ),
        );
        break;
      }
      folders.set(foldedFolder, folder);
    }
  }
  for (const [folded, path] of seen) {
    const folder = folders.get(folded);
    if (folder !== undefined) {
      violations.push(
        violation(path, "case_clash", `is a file, but ${JSON.stringify(folder)} is also used as a folder`),
      );
    }
  }
  return violations;
}
