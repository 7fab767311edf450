import path from "node:path";

export interface Invocation {
  command: string;
  args: string[];
  /** Windows only: the args are already one command line (cmd.exe /s /c "..."). */
  windowsVerbatimArguments?: boolean;
}

export type InterpreterChoice = { ok: true; invocation: Invocation } | { ok: false; problem: string };

// cmd.exe re-parses a .bat/.cmd command line: these characters would let an argument run commands.
const CMD_META = /[&|<>^%!"\r\n]/;

/**
 * How a script runs, from its extension: `.py` with the configured Python; `.bat`/`.cmd` through cmd.exe
 * on Windows only. Arguments stay an argv array; for batch files, where Windows has no argv, arguments
 * that cmd.exe would interpret are refused instead of escaped.
 */
export function chooseInterpreter(
  scriptPath: string,
  args: readonly string[],
  options: { python: string; platform: NodeJS.Platform; comSpec?: string },
): InterpreterChoice {
  const pathApi = options.platform === "win32" ? path.win32 : path.posix;
  const ext = pathApi.extname(scriptPath).toLowerCase();
  if (ext === ".py")
    return { ok: true, invocation: { command: options.python, args: [scriptPath, ...args] } };
  if (ext === ".bat" || ext === ".cmd") {
    if (options.platform !== "win32") {
      return {
        ok: false,
        problem: `script ${pathApi.basename(scriptPath)} is a Windows batch file (${ext}); this runner is on ${options.platform}, where only .py scripts run`,
      };
    }
    if (CMD_META.test(scriptPath)) {
      return {
        ok: false,
        problem: `batch script path ${JSON.stringify(scriptPath)} holds a character cmd.exe interprets (& | < > ^ % ! "): rename the script (or the work folder), or use a .py script`,
      };
    }
    const bad = args.find((arg) => CMD_META.test(arg));
    if (bad !== undefined) {
      return {
        ok: false,
        problem: `argument ${JSON.stringify(bad)} holds a character cmd.exe interprets (& | < > ^ % ! " or a line break); batch scripts take plain arguments only: use a .py script for this`,
      };
    }
    const line = [scriptPath, ...args].map((part) => `"${part}"`).join(" ");
    return {
      ok: true,
      invocation: {
        command: options.comSpec ?? "cmd.exe",
        args: ["/d", "/s", "/c", `"${line}"`],
        windowsVerbatimArguments: true,
      },
    };
  }
  return {
    ok: false,
    problem: `script type ${ext === "" ? "(no extension)" : ext} is not supported: use a .py script${options.platform === "win32" ? " or a .bat/.cmd file" : ""}`,
  };
}
