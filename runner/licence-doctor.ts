import { stat } from "node:fs/promises";
import path from "node:path";
import type { DoctorCheck } from "./doctor-check.ts";
import { firstAnswering, licenceSetting, parseLicenceServers } from "./licence-servers.ts";

/** Where Designcenter NX 2512 installs by default, when UGII_BASE_DIR is not set. */
export const DEFAULT_UGII_BASE_DIR = "C:\\Program Files\\Siemens\\DesigncenterNX2512";

async function isDir(dir: string): Promise<boolean> {
  return stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** The NX install the runner's jobs will see: UGII_BASE_DIR (or the default) and its NXBIN folder. */
async function checkInstall(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): Promise<DoctorCheck> {
  // An empty value is as good as unset: NX falls back to nothing, the default install is the best guess.
  const base = env.UGII_BASE_DIR || DEFAULT_UGII_BASE_DIR;
  const from = env.UGII_BASE_DIR ? "UGII_BASE_DIR" : "the default (UGII_BASE_DIR is not set)";
  const pathApi = platform === "win32" ? path.win32 : path;
  if (!(await isDir(base)))
    return {
      name: "nx install",
      level: "fail",
      message: `${base} (${from}) is not a folder: install NX or set UGII_BASE_DIR for the runner's user`,
    };
  const nxbin = pathApi.join(base, "NXBIN");
  return (await isDir(nxbin))
    ? { name: "nx install", level: "ok", message: `${base} (${from}) has NXBIN` }
    : {
        name: "nx install",
        level: "warn",
        message: `${base} (${from}) has no NXBIN folder: is it an NX install?`,
      };
}

/** The licence setting, and whether one of its servers answers on its port. */
async function checkLicence(
  env: NodeJS.ProcessEnv,
  configured: string | undefined,
  timeoutMs: number,
): Promise<DoctorCheck[]> {
  const setting = licenceSetting(configured, env);
  if (!setting)
    return [
      {
        name: "nx licence",
        level: "fail",
        message:
          "SPLM_LICENSE_SERVER is not set for this user: NX cannot get a licence (set it to port@host, e.g. 28000@licserver)",
      },
    ];
  const { servers, problems } = parseLicenceServers(setting);
  const checks: DoctorCheck[] = problems.map((problem) => ({
    name: "nx licence",
    level: "warn",
    message: `SPLM_LICENSE_SERVER: ${problem}`,
  }));
  if (servers.length === 0) {
    checks.push({
      name: "nx licence",
      level: "fail",
      message: `SPLM_LICENSE_SERVER=${setting} names no port@host`,
    });
    return checks;
  }
  checks.push({ name: "nx licence", level: "ok", message: `SPLM_LICENSE_SERVER=${setting}` });
  const answering = await firstAnswering(servers, timeoutMs);
  checks.push(
    answering
      ? { name: "licence server", level: "ok", message: `${answering.text} answers` }
      : {
          name: "licence server",
          level: "fail",
          message: `no licence server answers (${servers.map((s) => s.text).join(", ")}): NX jobs wait queued until one does`,
        },
  );
  return checks;
}

/**
 * NX checks: run on Windows, or wherever SPLM_LICENSE_SERVER is set (Linux tests set it explicitly);
 * elsewhere there is no NX to check and nothing is reported.
 */
export async function nxChecks(options: {
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  licenceServer?: string;
  timeoutMs?: number;
}): Promise<DoctorCheck[]> {
  const { env, platform } = options;
  if (platform !== "win32" && !licenceSetting(options.licenceServer, env)) return [];
  const install = platform === "win32" || env.UGII_BASE_DIR ? [await checkInstall(env, platform)] : [];
  return [...install, ...(await checkLicence(env, options.licenceServer, options.timeoutMs ?? 3000))];
}
