import { cp, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeLargeFile } from "../../../bench/generate-study.ts";

export const EXAMPLE_STUDY = fileURLToPath(new URL("../../../examples/mirror-wfe-study/", import.meta.url));

/** The example study as Study-Builder would hand it over, copied so each scenario has its own. */
export async function copyExample(target: string): Promise<string> {
  await cp(EXAMPLE_STUDY, target, {
    recursive: true,
    filter: (source) => !/[\\/](3_results|__pycache__)([\\/]|$)/.test(source),
  });
  return target;
}

/** The example study plus a large model file that takes Syncthing seconds to carry across. */
export async function studyWithLargeModel(target: string, bytes: number): Promise<string> {
  await copyExample(target);
  await writeLargeFile(join(target, "1_setup", "m1_mirror_sim1_large.fem"), bytes);
  return target;
}

/**
 * A study whose script starts a grandchild (as NX runs under Python), records both pids and the number
 * of times it was started next to the work copy, then runs until killed. Only relative paths.
 */
export async function longRunningStudy(target: string): Promise<string> {
  await mkdir(join(target, "1_setup"), { recursive: true });
  await writeFile(join(target, "1_setup", "stand_in.prt"), "stand-in part\n");
  await writeFile(
    join(target, "run_optimization.py"),
    `import os, subprocess, sys, time
from pathlib import Path

job_dir = Path(os.environ["ATOMIZER_JOB_DIR"])
starts = job_dir.parent / (os.environ["ATOMIZER_JOB_ID"] + ".starts")
with open(starts, "a") as f:
    f.write("started\\n")
solver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
(job_dir / "solver.pid").write_text(str(solver.pid))
print("solver started", solver.pid, flush=True)
for i in range(600):
    print("iteration", i, flush=True)
    time.sleep(0.5)
`,
  );
  await writeFile(
    join(target, "README.md"),
    "# Long-running stand-in\n\nRuns until cancelled; starts a solver child.\n",
  );
  return target;
}
