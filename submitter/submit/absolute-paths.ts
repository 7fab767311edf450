import { createInterface } from "node:readline";
import type { OpenRegularOptions } from "../../protocol/index.ts";
import { openRegularFile } from "../../protocol/index.ts";

export interface AbsolutePathFinding {
  file: string;
  line: number;
  match: string;
  kind: "windows" | "linux" | "unc";
}

/** A drive letter not preceded by a letter (so `sqlite:///` and `https://` are not drives). */
const WINDOWS_DRIVE = /(?<![A-Za-z0-9])[A-Za-z]:[\\/]+[^\s"'`,;)\]}]*/;
/** A quoted UNC path (`"\\\\server\\share"` in source, or `\\server\share` in JSON/raw strings). */
const UNC = /["'`](?:\\\\){1,2}[A-Za-z0-9][^\s"'`]*/;
/** A quoted string that starts at the filesystem root or the home folder: "/home/x", '~/data'. */
const LINUX_QUOTED = /["'`](~?\/(?!\/)[A-Za-z0-9_.-]+(?:\/[^\s"'`]*)?)["'`]/;
/** Unquoted, but unmistakably a machine's own folder (comments, f-strings, shell lines). */
const LINUX_HOME = /(?<![\w.:/-])\/(?:home|Users|root|mnt|media)\/[^\s"'`]+/;
const MAX_FINDINGS = 10;

/**
 * SYS_19 rule 5: no absolute Windows or Linux paths in the script or spec. Streams the file line by
 * line (a script can be large) and reports each offending line, up to a bound.
 */
export async function findAbsolutePaths(
  file: string,
  displayPath: string,
  options: OpenRegularOptions = {},
): Promise<AbsolutePathFinding[]> {
  const findings: AbsolutePathFinding[] = [];
  // Never a FIFO or a link swapped in since the listing: reading one would hang the submit.
  const handle = await openRegularFile(file, options);
  const input = handle.createReadStream({ encoding: "utf8", autoClose: false });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let number = 0;
  try {
    for await (const text of lines) {
      number++;
      if (number === 1 && text.startsWith("#!")) continue;
      const windows = WINDOWS_DRIVE.exec(text);
      const unc = UNC.exec(text);
      const linux = LINUX_QUOTED.exec(text) ?? LINUX_HOME.exec(text);
      const hit = windows
        ? { kind: "windows" as const, match: windows[0] }
        : unc
          ? { kind: "unc" as const, match: unc[0].slice(1) }
          : linux
            ? { kind: "linux" as const, match: linux[1] ?? linux[0] }
            : undefined;
      if (hit) {
        findings.push({ file: displayPath, line: number, ...hit });
        if (findings.length >= MAX_FINDINGS) {
          lines.close();
          break;
        }
      }
    }
  } finally {
    input.destroy();
    await handle.close();
  }
  return findings;
}

export function describeFinding(finding: AbsolutePathFinding): string {
  const what = finding.kind === "linux" ? "Linux" : finding.kind === "unc" ? "network (UNC)" : "Windows";
  return `${finding.file}:${finding.line}: absolute ${what} path ${JSON.stringify(finding.match.slice(0, 80))}`;
}
