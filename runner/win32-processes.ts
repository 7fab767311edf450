import { execFile } from "node:child_process";

/** Runs a listing program; its stdout decoded (wmic writes UTF-16LE with a BOM), or "" when it fails. */
function listing(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: 15_000, windowsHide: true, encoding: "buffer", maxBuffer: 16 * 1024 * 1024 },
      (error, stdout) => {
        if (error) return resolve("");
        const utf16 = stdout[0] === 0xff && stdout[1] === 0xfe;
        resolve(utf16 ? stdout.subarray(2).toString("utf16le") : stdout.toString("utf8"));
      },
    );
  });
}

/** `parent child` pairs from lines holding two numbers (wmic's table, PowerShell's lines). */
export function parseParentLinks(text: string): Array<[number, number]> {
  const links: Array<[number, number]> = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(line);
    if (m) links.push([Number(m[1]), Number(m[2])]);
  }
  return links;
}

/** Every descendant of `root` by the parent links (children first found, then theirs). */
export function descendantsOf(root: number, links: ReadonlyArray<[number, number]>): number[] {
  const found: number[] = [];
  const seen = new Set([root]);
  for (let i = -1; i < found.length; i++) {
    const parent = i < 0 ? root : (found[i] as number);
    for (const [p, c] of links)
      if (p === parent && !seen.has(c)) {
        seen.add(c);
        found.push(c);
      }
  }
  return found;
}

/**
 * Windows: the descendants of a process from the system's parent links, for when `taskkill /T` is not
 * available or failed (Wine's taskkill has no /T). wmic first (present on Wine and most Windows; its
 * columns are ParentProcessId then ProcessId), PowerShell's CIM where wmic is gone (Windows 11 24H2).
 * Parent links can be stale (a parent that died long ago and whose pid was reused), which is why this is
 * the fallback behind taskkill and not the first choice.
 */
export async function windowsDescendants(root: number): Promise<number[]> {
  let links = parseParentLinks(await listing("wmic", ["process", "get", "ParentProcessId,ProcessId"]));
  if (links.length === 0) {
    links = parseParentLinks(
      await listing("powershell.exe", [
        "-NoProfile",
        "-NonInteractive",
        "-Command",
        'Get-CimInstance Win32_Process | ForEach-Object { "$($_.ParentProcessId) $($_.ProcessId)" }',
      ]),
    );
  }
  return descendantsOf(root, links);
}
