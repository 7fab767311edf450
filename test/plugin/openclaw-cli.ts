import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";

/** The OpenClaw release the plugin is checked against; bump it deliberately. */
export const OPENCLAW_VERSION = "2026.9.6";

export interface OpenClaw {
  /** The package folder (…/node_modules/openclaw). */
  packageDir: string;
  /** The CLI's JavaScript entry, run with this Node. */
  entry: string;
  /** Loads a module OpenClaw itself depends on (json5), so the test needs no extra dependency. */
  require: NodeJS.Require;
}

function cacheRoot(): string {
  return process.env.ATOMIZER_CACHE_DIR ?? join(homedir(), ".cache", "atomizer-job-queue");
}

async function locate(prefix: string): Promise<OpenClaw | undefined> {
  const packageDir = join(prefix, "node_modules", "openclaw");
  const manifestPath = join(packageDir, "package.json");
  if (!existsSync(manifestPath)) return undefined;
  const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as { version?: string; bin?: unknown };
  if (manifest.version !== OPENCLAW_VERSION) return undefined;
  const bin =
    typeof manifest.bin === "string" ? manifest.bin : (manifest.bin as Record<string, string>)?.openclaw;
  if (!bin) throw new Error(`${manifestPath} names no openclaw bin`);
  return { packageDir, entry: join(packageDir, bin), require: createRequire(manifestPath) };
}

/**
 * OpenClaw from the npm registry, installed once into a cache folder outside the clone (it is over
 * 600 MB) and reused. Installed into a scratch folder and renamed in, so an interrupted install is
 * never mistaken for a complete one. npm 11 skips OpenClaw's install scripts; the CLI works without them.
 */
export async function ensureOpenClaw(): Promise<OpenClaw> {
  const prefix = join(cacheRoot(), `openclaw-${OPENCLAW_VERSION}`);
  const cached = await locate(prefix);
  if (cached) return cached;
  const scratch = `${prefix}.partial-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  await execa(
    npm,
    ["install", "--prefix", scratch, "--no-audit", "--no-fund", `openclaw@${OPENCLAW_VERSION}`],
    {
      stdio: "inherit",
      env: {
        PATH: `${dirname(process.execPath)}${process.platform === "win32" ? ";" : ":"}${process.env.PATH ?? ""}`,
      },
    },
  );
  await rm(prefix, { recursive: true, force: true });
  await rename(scratch, prefix);
  const installed = await locate(prefix);
  if (!installed)
    throw new Error(`npm installed openclaw into ${prefix}, but not version ${OPENCLAW_VERSION}`);
  return installed;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `openclaw <args>` with this Node and exactly the given environment (plus PATH). */
export async function runOpenClaw(
  openclaw: OpenClaw,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<RunResult> {
  const result = await execa(process.execPath, [openclaw.entry, ...args], {
    env: {
      PATH: `${dirname(process.execPath)}${process.platform === "win32" ? ";" : ":"}${process.env.PATH ?? ""}`,
      NO_COLOR: "1",
      ...env,
    },
    extendEnv: false,
    reject: false,
    timeout: 120_000,
  });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Parses the JSON a `--json` command printed on stdout, naming the command when it is not JSON. */
export function parseJsonOutput<T>(what: string, result: RunResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(
      `${what}: exit ${result.exitCode}, stdout is not JSON:\n${result.stdout.slice(0, 2000)}\nstderr:\n${result.stderr.slice(-2000)}`,
    );
  }
}
