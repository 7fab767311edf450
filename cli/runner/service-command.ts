import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import type { ServiceDefinition } from "../../runner/service-task.ts";
import { schtasksArgs, serviceLogFile, taskFileBytes, taskXml } from "../../runner/service-task.ts";
import { UsageError } from "./options.ts";

const USAGE = `usage: atomizer-jobs service install --queue DIR --work DIR --state DIR [options]
       atomizer-jobs service uninstall [--name NAME]
       atomizer-jobs service status [--name NAME] [--state DIR]

Windows: registers the runner as a Task Scheduler task that starts at boot and is restarted when it
stops, as the user that holds the NX licence environment, logging to STATE\\runner.log.

  --queue, --work, --state DIR, --slots N, --python PATH, --host NAME, --nx-job-types LIST,
  --trust-key FILE (repeatable), --signing-key FILE
                        passed to the runner (see atomizer-jobs runner --help)
  --user DOMAIN\\USER    the task's user (default: this user, %USERDOMAIN%\\%USERNAME%)
  --logon password|s4u  password (default): runs logged on or not, with the user's network access;
                        schtasks asks for the password (or takes ATOMIZER_SERVICE_PASSWORD).
                        s4u: no stored password, local folders only
  --name NAME           task name (default atomizer-runner)
  --no-start            register only; the task starts at the next boot
  --print               print the task definition and do nothing else (works on any OS)
  --help                show this help
`;

const RUNNER_OPTIONS = [
  "queue",
  "work",
  "state",
  "slots",
  "python",
  "host",
  "nx-job-types",
  "signing-key",
] as const;
/** Options naming a folder or file: made absolute, since the task starts elsewhere (system32). */
const PATH_OPTIONS: ReadonlySet<string> = new Set(["queue", "work", "state", "signing-key"]);

interface Call {
  code: number | null;
  output: string;
}

/** Runs schtasks; `interactive` inherits the console so it can ask for the password. */
function schtasks(args: string[], interactive = false): Promise<Call> {
  return new Promise((resolve) => {
    const child = spawn("schtasks", args, { stdio: interactive ? "inherit" : "pipe", windowsHide: true });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("error", (error) => resolve({ code: null, output: error.message }));
    child.once("close", (code) => resolve({ code, output: output.trim() }));
  });
}

type Values = Partial<Record<(typeof RUNNER_OPTIONS)[number] | "user" | "logon" | "name", string>> & {
  "trust-key"?: string[];
  "no-start"?: boolean;
  print?: boolean;
  help?: boolean;
};

function definition(values: Values): ServiceDefinition {
  const { queue, work, state } = values;
  if (!queue || !work || !state) throw new UsageError("service install needs --queue, --work and --state");
  const logon = values.logon ?? "password";
  if (logon !== "password" && logon !== "s4u") throw new UsageError("--logon is password or s4u");
  // The task starts elsewhere (system32): every folder must be absolute.
  const absolute = (dir: string) => path.win32.resolve(dir);
  const runnerArgs: string[] = [];
  for (const option of RUNNER_OPTIONS) {
    const value = values[option];
    if (value === undefined) continue;
    runnerArgs.push(`--${option}`, PATH_OPTIONS.has(option) ? absolute(value) : value);
  }
  for (const file of values["trust-key"] ?? []) runnerArgs.push("--trust-key", absolute(file));
  const user = values.user ?? [process.env.USERDOMAIN, process.env.USERNAME].filter(Boolean).join("\\");
  if (!user) throw new UsageError("cannot tell this user's name: pass --user DOMAIN\\USER");
  return {
    name: values.name ?? "atomizer-runner",
    user,
    logon,
    node: process.execPath,
    script: path.resolve(process.argv[1] ?? "bin/atomizer-jobs.js"),
    runnerArgs,
    stateDir: absolute(state),
  };
}

async function install(values: Values): Promise<number> {
  const def = definition(values);
  const xml = taskXml(def);
  if (values.print) {
    process.stdout.write(xml);
    return 0;
  }
  if (process.platform !== "win32")
    throw new UsageError("service install registers a Windows task: use --print elsewhere");
  if (!process.env.SPLM_LICENSE_SERVER)
    process.stderr.write(
      "warning: SPLM_LICENSE_SERVER is not set here: NX jobs need it in the task user's environment\n",
    );
  const file = path.win32.join(def.stateDir, "service", `${def.name}.xml`);
  await mkdir(path.win32.dirname(file), { recursive: true });
  await writeFile(file, taskFileBytes(xml));
  const created = await schtasks(
    schtasksArgs.create(def, file, process.env.ATOMIZER_SERVICE_PASSWORD),
    def.logon === "password" && !process.env.ATOMIZER_SERVICE_PASSWORD,
  );
  if (created.code !== 0) {
    process.stderr.write(`schtasks /create failed (exit ${created.code}): ${created.output}\n`);
    return 1;
  }
  process.stdout.write(
    `registered task ${def.name} (definition ${file}), as ${def.user} (${def.logon}); log ${serviceLogFile(def.stateDir)}\n`,
  );
  if (!values["no-start"]) {
    const started = await schtasks(schtasksArgs.run(def.name));
    process.stdout.write(
      started.code === 0
        ? `started ${def.name}\n`
        : `could not start it now (${started.output}); it starts at the next boot\n`,
    );
  }
  return 0;
}

async function uninstall(values: Values): Promise<number> {
  const name = values.name ?? "atomizer-runner";
  // Stops the runner; its jobs keep running under their supervisors until a runner takes them over.
  await schtasks(["/end", "/tn", name]);
  const removed = await schtasks(schtasksArgs.remove(name));
  if (removed.code !== 0) {
    process.stderr.write(`schtasks /delete failed (exit ${removed.code}): ${removed.output}\n`);
    return 1;
  }
  process.stdout.write(`removed task ${name}\n`);
  return 0;
}

async function status(values: Values): Promise<number> {
  const name = values.name ?? "atomizer-runner";
  const query = await schtasks(schtasksArgs.query(name));
  process.stdout.write(
    query.code !== 0
      ? `task ${name} is not registered (${query.output || `schtasks exit ${query.code}`})\n`
      : `task ${name}:\n${query.output || "(schtasks printed no details)"}\n`,
  );
  if (values.state) {
    const log = serviceLogFile(path.win32.resolve(values.state));
    const tail = await readFile(log, "utf8").then(
      (text) => text.trimEnd().split(/\r?\n/).slice(-10),
      () => [`(no log at ${log} yet)`],
    );
    process.stdout.write(`last lines of ${log}:\n${tail.map((line) => `  ${line}`).join("\n")}\n`);
  }
  return query.code === 0 ? 0 : 3;
}

export async function run(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  try {
    const { values } = parseArgs({
      args: rest,
      strict: true,
      options: {
        ...Object.fromEntries(RUNNER_OPTIONS.map((o) => [o, { type: "string" as const }])),
        "trust-key": { type: "string", multiple: true },
        user: { type: "string" },
        logon: { type: "string" },
        name: { type: "string" },
        "no-start": { type: "boolean" },
        print: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    const given = values as Values;
    if (given.help || action === "--help" || action === "-h") {
      process.stdout.write(USAGE);
      return 0;
    }
    if (action === "install") return await install(given);
    if (process.platform !== "win32")
      throw new UsageError(`service ${action ?? ""} needs Windows (schtasks)`);
    if (action === "uninstall") return await uninstall(given);
    if (action === "status") return await status(given);
    throw new UsageError(`unknown action ${JSON.stringify(action ?? "")}: install, uninstall or status`);
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
    process.stderr.write(`atomizer-jobs service: ${error.message}\n\n${USAGE}`);
    return 2;
  }
}
