import type { Dirent } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  ATOMIC_TEMP_PREFIX,
  ATOMIC_TEMP_SUFFIX,
  errnoCode,
  isInsideFolder,
  MAX_MANIFEST_ENTRIES,
} from "../../protocol/index.ts";
import { OperationError } from "../operations/operation-error.ts";

export interface StudyFile {
  /** Job-relative POSIX path. */
  path: string;
  /** Real path of the file to copy. */
  source: string;
}

export interface StudyListing {
  root: string;
  files: StudyFile[];
  /** OS and tool junk left out (the folders' .stignore would keep Syncthing from delivering it anyway). */
  skipped: string[];
  /** Reasons to refuse the submission. */
  problems: string[];
}

/** Junk .stignore excludes (STIGNORE_LINES): shipping it would leave the runner waiting forever. */
const SKIPPED_NAMES = new Set([".DS_Store", "Thumbs.db", "desktop.ini", "__pycache__", ".git"]);
/** The manifest bound: a job listing more files would be refused by every reader. */
const MAX_FILES = MAX_MANIFEST_ENTRIES;

function isSkipped(name: string): boolean {
  return (
    SKIPPED_NAMES.has(name) ||
    name.startsWith("._") ||
    name.startsWith("~$") ||
    (name.startsWith(ATOMIC_TEMP_PREFIX) && name.endsWith(ATOMIC_TEMP_SUFFIX))
  );
}

/**
 * Resolves study_dir through symlinks, checks it lies inside an allowed root (so an agent cannot ship
 * ~/.ssh to another machine) and lists its files. Links pointing outside the study are refused; links
 * inside it are copied as what they point to.
 */
export async function collectStudyFiles(
  studyDir: string,
  allowRoots: readonly string[],
): Promise<StudyListing> {
  let root: string;
  try {
    root = await realpath(resolve(studyDir));
  } catch (error) {
    throw new OperationError(
      "invalid_argument",
      `study_dir ${studyDir} does not exist or cannot be read (${errnoCode(error) ?? (error as Error).message})`,
      "pass the folder holding the study's script, atomizer_spec.json and 1_setup/",
    );
  }
  if (!(await stat(root)).isDirectory()) {
    throw new OperationError(
      "invalid_argument",
      `study_dir ${studyDir} is not a folder`,
      "pass the study's folder",
    );
  }
  if (allowRoots.length === 0) {
    throw new OperationError(
      "forbidden",
      "this server has no submission folder: it reads study folders only under the folders it is started with",
      "ask the operator to start `atomizer-jobs mcp` with --allow <folder> (or ATOMIZER_ALLOW=<folder>) holding the studies",
    );
  }
  if (!allowRoots.some((allowed) => isInsideFolder(allowed, root))) {
    throw new OperationError(
      "forbidden",
      `study_dir ${studyDir} (really ${root}) is outside the folders this server may read (${allowRoots.join(", ")})`,
      "move the study under an allowed folder, or start the server with --allow <folder>",
    );
  }
  const listing: StudyListing = { root, files: [], skipped: [], problems: [] };
  const visited = new Set<string>([root]);
  const walk = async (dir: string, prefix: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      listing.problems.push(
        `${prefix || "."}: cannot read folder (${errnoCode(error) ?? (error as Error).message})`,
      );
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      const full = join(dir, entry.name);
      if (isSkipped(entry.name)) {
        listing.skipped.push(path);
        continue;
      }
      if (listing.files.length >= MAX_FILES) {
        listing.problems.push(
          `more than ${MAX_FILES} files: a study folder should hold the study, not a whole tree`,
        );
        return;
      }
      if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(full);
        } catch {
          listing.problems.push(`${path} is a broken symlink; remove it or copy the file in`);
          continue;
        }
        if (!isInsideFolder(root, target)) {
          listing.problems.push(
            `${path} is a symlink to ${target}, outside study_dir; copy the file into the study instead`,
          );
          continue;
        }
        const stats = await stat(target);
        if (stats.isFile()) listing.files.push({ path, source: target });
        else if (stats.isDirectory()) {
          if (visited.has(target)) listing.problems.push(`${path} is a symlink loop back to ${target}`);
          else {
            visited.add(target);
            await walk(target, path);
          }
        } else listing.problems.push(`${path} points to something that is not a regular file`);
      } else if (entry.isDirectory()) {
        await walk(full, path);
      } else if (entry.isFile()) {
        listing.files.push({ path, source: full });
      } else {
        listing.problems.push(
          `${path} is not a regular file (socket, device or pipe); remove it from the study`,
        );
      }
    }
  };
  await walk(root, "");
  return listing;
}
