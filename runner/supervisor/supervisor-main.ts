// The supervisor process of one job run (spawned detached by the runner): it outlives the runner,
// owns the script's process tree and records how the script ended. See supervise.ts.
import { supervise } from "./supervise.ts";

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write("usage: supervisor-main <run folder>\n");
  process.exit(2);
}
// Ctrl-C or a closing terminal of the runner must not end the job: only the runner's kill does.
for (const name of ["SIGINT", "SIGHUP"] as const) process.on(name, () => {});
try {
  const result = await supervise(dir, process.platform);
  if (!result.ran) process.stderr.write(`${new Date().toISOString()} not run: ${result.why}\n`);
} catch (error) {
  process.stderr.write(`${new Date().toISOString()} supervisor failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
}
