import { mkdir, rm, statfs, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { checkQueueLayout, isInsideFolder, pathExists, queuePaths, tempPathFor } from "../protocol/index.ts";
import type { DoctorCheck } from "./doctor-check.ts";
import { keyChecks } from "./key-doctor.ts";
import { ledgerCheck } from "./ledger-doctor.ts";
import { nxChecks } from "./licence-doctor.ts";
import { errorMessage } from "./log.ts";

export type { CheckLevel, DoctorCheck } from "./doctor-check.ts";

export interface DoctorOptions {
  queueDir?: string;
  workDir?: string;
  stateDir?: string;
  python: string;
  /** Below this many free bytes on the work disk the check warns. */
  minFreeBytes?: number;
  /** The runner's --trust-key files and --signing-key file (docs/runner.md, "Signed jobs"). */
  trustKeys?: readonly string[];
  signingKey?: string;
  /** Licence servers (port@host;...) instead of SPLM_LICENSE_SERVER. */
  licenceServer?: string;
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
}

async function runPython(python: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  const result = await execa(python, args, { timeout: 60_000, windowsHide: true, reject: false, all: true });
  const output = typeof result.all === "string" ? result.all.trim() : "";
  // A program that never started says why in originalMessage ("spawn ... ENOENT"), on one line.
  const why = result.originalMessage ?? result.shortMessage ?? "failed";
  return { ok: !result.failed, output: output || (result.failed ? why.replace(/\s+/g, " ") : "") };
}

async function checkPython(python: string): Promise<DoctorCheck[]> {
  const version = await runPython(python, ["--version"]);
  if (!version.ok) {
    return [
      {
        name: "python",
        level: "fail",
        message: `${python} does not run (${version.output}); pass --python with the full path of the NX/Optuna Python`,
      },
    ];
  }
  const checks: DoctorCheck[] = [{ name: "python", level: "ok", message: `${python}: ${version.output}` }];
  const optuna = await runPython(python, ["-c", "import optuna, sys; sys.stdout.write(optuna.__version__)"]);
  checks.push(
    optuna.ok
      ? { name: "optuna", level: "ok", message: `optuna ${optuna.output}` }
      : {
          name: "optuna",
          level: "warn",
          message: `${python} cannot import optuna: studies need it (pip install optuna for that interpreter)`,
        },
  );
  return checks;
}

async function checkWritable(name: string, dir: string): Promise<DoctorCheck> {
  try {
    await mkdir(dir, { recursive: true });
    const probe = tempPathFor(path.join(dir, "doctor-probe"));
    await writeFile(probe, "probe");
    await rm(probe, { force: true });
    return { name, level: "ok", message: `${dir} is writable` };
  } catch (error) {
    return { name, level: "fail", message: `${dir} is not writable: ${errorMessage(error)}` };
  }
}

/** Checks a runner host: Python, folders, queue layout and Syncthing markers, the ledger, free disk. */
export async function runDoctor(options: DoctorOptions): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = await checkPython(options.python);
  if (options.queueDir) {
    const problems = await checkQueueLayout(options.queueDir);
    if (problems.length > 0)
      for (const message of problems) checks.push({ name: "queue", level: "fail", message });
    else {
      checks.push({
        name: "queue",
        level: "ok",
        message: `${options.queueDir} has outbox/, inbox/, archive/`,
      });
      const paths = queuePaths(options.queueDir);
      for (const [name, dir] of [
        ["outbox", paths.outbox],
        ["inbox", paths.inbox],
      ] as const) {
        checks.push(
          (await pathExists(path.join(dir, ".stfolder")))
            ? { name: `syncthing ${name}`, level: "ok", message: `${dir}/.stfolder present` }
            : {
                name: `syncthing ${name}`,
                level: "warn",
                message: `${dir} has no .stfolder: it is not (yet) a Syncthing folder; add it in Syncthing (${name === "outbox" ? "Receive Only" : "Send Only"})`,
              },
        );
      }
      checks.push(await checkWritable("inbox writable", paths.inbox));
    }
  } else checks.push({ name: "queue", level: "warn", message: "no --queue given: queue layout not checked" });
  for (const [name, dir] of [
    ["work", options.workDir],
    ["state", options.stateDir],
  ] as const) {
    if (!dir) {
      checks.push({ name, level: "warn", message: `no --${name} given: not checked` });
      continue;
    }
    if (options.queueDir && isInsideFolder(path.resolve(options.queueDir), path.resolve(dir))) {
      checks.push({
        name,
        level: "fail",
        message: `${dir} is inside the queue folder: keep --${name} outside the synced folders`,
      });
      continue;
    }
    checks.push(await checkWritable(name, dir));
    if (name === "state") checks.push(await ledgerCheck(dir));
  }
  checks.push(
    ...(await keyChecks({
      trustKeys: options.trustKeys ?? [],
      ...(options.signingKey ? { signingKey: options.signingKey } : {}),
      ...(options.queueDir ? { queueDir: options.queueDir } : {}),
    })),
  );
  checks.push(
    ...(await nxChecks({
      env: options.env ?? process.env,
      platform: options.platform ?? process.platform,
      ...(options.licenceServer ? { licenceServer: options.licenceServer } : {}),
    })),
  );
  const diskDir = options.workDir ?? options.queueDir;
  if (diskDir) {
    try {
      const stats = await statfs(diskDir);
      const free = stats.bavail * stats.bsize;
      const min = options.minFreeBytes ?? 5 * 1024 ** 3;
      const gib = (free / 1024 ** 3).toFixed(1);
      checks.push(
        free >= min
          ? { name: "disk", level: "ok", message: `${gib} GiB free at ${diskDir}` }
          : {
              name: "disk",
              level: "warn",
              message: `only ${gib} GiB free at ${diskDir}: NX scratch files and results need room`,
            },
      );
    } catch (error) {
      checks.push({
        name: "disk",
        level: "warn",
        message: `free space of ${diskDir} unknown: ${errorMessage(error)}`,
      });
    }
  }
  return checks;
}
