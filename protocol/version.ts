import { existsSync, readFileSync } from "node:fs";

/** This package's version from its package.json, found from the sources or from dist/. */
export function packageVersion(): string {
  for (const relative of ["../package.json", "../../package.json"]) {
    const url = new URL(relative, import.meta.url);
    if (!existsSync(url)) continue;
    const parsed = JSON.parse(readFileSync(url, "utf8")) as { name?: string; version?: string };
    if (parsed.name === "atomizer-job-queue" && parsed.version) return parsed.version;
  }
  return "0.0.0-unknown";
}
