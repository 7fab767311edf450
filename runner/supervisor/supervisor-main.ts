// The supervisor process of one job run (spawned detached by the runner): it outlives the runner,
// owns the script's process tree and records how the script ended. See supervise.ts.
import { RUN_TOKEN_PATTERN } from "./run-folder.ts";
import { supervise } from "./supervise.ts";

const [dir, token] = process.argv.slice(2);
// No token: started by an older runner (still running during an upgrade) for a request with plain names.
if (dir === undefined || (token !== undefined && !RUN_TOKEN_PATTERN.test(token))) {
  process.stderr.write("usage: supervisor-main <run folder> [<run token>]\n");
  process.exit(2);
}
// Ctrl-C or a closing terminal of the runner must not end the job: only the runner's kill does.
for (const name of ["SIGINT", "SIGHUP"] as const) process.on(name, () => {});
try {
  const result = await supervise(dir, process.platform, token);
  if (!result.ran) process.stderr.write(`${new Date().toISOString()} not run: ${result.why}\n`);
} catch (error) {
  process.stderr.write(`${new Date().toISOString()} supervisor failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
}
