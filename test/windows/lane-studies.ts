import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

// The job scripts of the lane. `.py` jobs run with the runner's --python pointing at node.exe (no
// Windows Python installs here), so their bodies are JavaScript: the interpreter path is what is tested.

const TICK = `const fs = require("node:fs"), path = require("node:path");
const results = process.env.ATOMIZER_RESULTS_DIR;`;

export const STUDIES: Record<string, Record<string, string>> = {
  "cmd-job": {
    "run.cmd": [
      "@echo off",
      "echo hello from %ATOMIZER_JOB_ID% args %~1 %~2",
      'echo %ATOMIZER_JOB_ID%> "%ATOMIZER_RESULTS_DIR%\\hello.txt"',
      "exit /b 0",
      "",
    ].join("\r\n"),
  },
  "interpreter-job": {
    "main.py": `${TICK}
fs.writeFileSync(path.join(results, "result.json"), JSON.stringify({ args: process.argv.slice(2), cwd: process.cwd(), platform: process.platform }));
console.log("interpreter ran", process.argv.slice(2).join("|"));
`,
  },
  "sleep-job": { "main.py": `setTimeout(() => {}, 120000);\nconsole.log("sleeping");\n` },
  // Three levels: the script, a child, a grandchild. The descendants are detached (outside the
  // script's job object, as NX started by Python is), so only a real tree kill reaches them.
  "tree-job": {
    "main.py": `${TICK}
const { spawn } = require("node:child_process");
const level = Number(process.argv[2] ?? "1");
if (level < 3) spawn(process.execPath, [__filename, String(level + 1)], { stdio: "ignore", detached: true });
setInterval(() => fs.writeFileSync(path.join(results, "tick-" + level + ".txt"), String(Date.now())), 200);
console.log("level", level, "pid", process.pid);
`,
  },
  // A solver the script starts and leaves behind: when the script exits its parent link is gone, so
  // no tree kill can find it; the supervisor must have noted it while the script ran.
  "orphan-job": {
    "main.py": `${TICK}
const { spawn } = require("node:child_process");
if (process.argv[2] === "orphan") {
  setInterval(() => fs.writeFileSync(path.join(results, "tick-orphan.txt"), String(Date.now())), 200);
} else {
  const child = spawn(process.execPath, [__filename, "orphan"], { stdio: "ignore", detached: true });
  console.log("left", child.pid, "behind");
  setTimeout(() => process.exit(0), 4000);
}
`,
  },
  "long-job": {
    "main.py": `${TICK}
fs.appendFileSync(path.join(results, "runs.txt"), "started " + process.pid + "\\n");
const total = Number(process.argv[2] ?? "10");
let done = 0;
const timer = setInterval(() => {
  done++;
  fs.writeFileSync(path.join(results, "progress.json"), JSON.stringify({ trials_complete: done, trials_planned: total }));
  if (done >= total) { clearInterval(timer); fs.writeFileSync(path.join(results, "done.txt"), "done"); console.log("done"); }
}, 500);
`,
  },
};

/** Writes a study folder (README.md plus its files) under `root`. */
export async function writeStudy(root: string, name: string): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "README.md"), `# ${name}\n\nA Windows lane job.\n`);
  for (const [file, text] of Object.entries(STUDIES[name] ?? {})) await writeFile(path.join(dir, file), text);
  return dir;
}
