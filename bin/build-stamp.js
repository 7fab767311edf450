// The record that dist/ was compiled from the sources as they are now (dist/build-stamp.json), and the
// check of it. Plain JavaScript: it runs before anything is compiled, and in an installed package.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

export const STAMP_FILE = "build-stamp.json";
/** The configs that shape the compiled output besides the sources themselves. */
const CONFIGS = ["tsconfig.json", "tsconfig.build.json"];

/** The folders tsconfig.build.json compiles. */
function compiledFolders(root) {
  const config = JSON.parse(readFileSync(join(root, "tsconfig.build.json"), "utf8"));
  return config.include;
}

function relativeName(root, path) {
  return relative(root, path).split(sep).join("/");
}

/** Every file the build reads and every folder they are in, relative to `root` with "/" separators, sorted. */
export function sourceTree(root) {
  const files = [...CONFIGS];
  const folders = [];
  for (const folder of compiledFolders(root)) {
    folders.push(folder);
    for (const entry of readdirSync(join(root, folder), { recursive: true, withFileTypes: true })) {
      const path = relativeName(root, join(entry.parentPath, entry.name));
      if (entry.isDirectory()) folders.push(path);
      else if (entry.isFile() && entry.name.endsWith(".ts")) files.push(path);
    }
  }
  return { files: files.sort(), folders: folders.sort() };
}

function sha256(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Size, mtime and SHA-256 of every source file: taken before compiling, so an edit made during the build shows. */
export function describeSources(root) {
  const tree = sourceTree(root);
  const files = {};
  for (const file of tree.files) {
    const path = join(root, file);
    const { size, mtimeMs } = statSync(path);
    files[file] = { size, mtimeMs, sha256: sha256(path) };
  }
  const folders = {};
  for (const folder of tree.folders) folders[folder] = statSync(join(root, folder)).mtimeMs;
  return { files, folders };
}

/** The recorded file names still name every source: no folder's listing moved, or a fresh listing agrees. */
function sameFileSet(root, stamp) {
  const folders = Object.entries(stamp.folders ?? {});
  const unmoved = folders.every(([folder, mtimeMs]) => {
    try {
      return statSync(join(root, folder)).mtimeMs === mtimeMs;
    } catch {
      return false;
    }
  });
  if (unmoved && folders.length > 0) return true;
  const { files } = sourceTree(root);
  const recorded = Object.keys(stamp.files ?? {});
  return files.length === recorded.length && files.every((file) => file in stamp.files);
}

/**
 * Whether dist/ holds a build of exactly these sources: the same files (a folder whose mtime moved
 * is listed again: an entry was added, removed or renamed), each with the recorded size and either
 * the recorded mtime or, when only the mtime moved (a checkout, a touch), the recorded content. A
 * stat per folder and file in the usual case, so every command can afford the check.
 */
export function stampIsCurrent(root) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(root, "dist", STAMP_FILE), "utf8"));
  } catch {
    return false;
  }
  if (!sameFileSet(root, stamp)) return false;
  for (const [file, was] of Object.entries(stamp.files)) {
    const path = join(root, file);
    let stats;
    try {
      stats = statSync(path);
    } catch {
      return false;
    }
    if (stats.size !== was.size) return false;
    if (stats.mtimeMs !== was.mtimeMs && sha256(path) !== was.sha256) return false;
  }
  return true;
}
