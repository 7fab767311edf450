import { parseArgs } from "node:util";
import { defaultPython } from "../../runner/config.ts";
import { runDoctor } from "../../runner/doctor.ts";
import { HOST_OPTIONS, hostCommand, KEY_USAGE, keyFiles } from "./options.ts";

const USAGE = `usage: atomizer-jobs doctor [--queue DIR] [--work DIR] [--state DIR] [--python PATH] [--trust-key FILE]...

Checks this host can run jobs: the Python (and Optuna), the folders are writable, the queue layout and
Syncthing folder markers (.stfolder), free disk; on Windows (or wherever SPLM_LICENSE_SERVER is set)
the NX install (UGII_BASE_DIR) and whether a licence server answers; the keys: which jobs the runner
would run (only signed ones, with --trust-key) and whether it signs its records. Exit code 1 when a check fails.

  --queue DIR     queue root holding outbox/, inbox/, archive/ (or ATOMIZER_QUEUE_DIR)
  --work DIR      the runner's work folder
  --state DIR     the runner's state folder
  --python PATH   the Python the runner will use (default ${defaultPython()})
  --licence-server S  licence servers port@host[;...] to check (default SPLM_LICENSE_SERVER)
${KEY_USAGE}  --help          show this help
`;

function readArgs(argv: string[]) {
  const { values } = parseArgs({ args: argv, strict: true, options: HOST_OPTIONS });
  // The key options are read here, so a --trust-key naming no file is a usage error (exit 2).
  return values.help ? "help" : { ...values, keys: keyFiles(values) };
}

export const run = hostCommand("doctor", USAGE, readArgs, async (values) => {
  const queueDir = values.queue ?? process.env.ATOMIZER_QUEUE_DIR;
  const checks = await runDoctor({
    python: values.python ?? defaultPython(),
    ...(queueDir ? { queueDir } : {}),
    ...(values.work ? { workDir: values.work } : {}),
    ...(values.state ? { stateDir: values.state } : {}),
    ...(values["licence-server"] ? { licenceServer: values["licence-server"] } : {}),
    ...values.keys,
  });
  for (const check of checks)
    process.stdout.write(`${check.level.padEnd(4)}  ${check.name}: ${check.message}\n`);
  return checks.some((check) => check.level === "fail") ? 1 : 0;
});
