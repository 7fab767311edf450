/** Syncthing's own bookkeeping names at a folder root. */
const SYNCTHING_MARKERS = new Set([".stfolder", ".stignore", ".stversions"]);

/**
 * Names Syncthing writes or keeps for itself: in-flight temp files (`.syncthing.NAME.tmp` on POSIX,
 * `~syncthing~NAME.tmp` on Windows) and folder markers. They are never part of a job.
 */
export function isSyncthingArtefact(name: string): boolean {
  if (SYNCTHING_MARKERS.has(name)) return true;
  if (name.startsWith(".syncthing.") && name.endsWith(".tmp")) return true;
  return name.startsWith("~syncthing~") && name.endsWith(".tmp");
}

/** The file a Syncthing temp name stands for, or undefined when it is not a temp name. */
export function syncthingTempTarget(name: string): string | undefined {
  if (!name.endsWith(".tmp")) return undefined;
  if (name.startsWith(".syncthing.")) return name.slice(".syncthing.".length, -".tmp".length);
  if (name.startsWith("~syncthing~")) return name.slice("~syncthing~".length, -".tmp".length);
  return undefined;
}

// NAME.sync-conflict-YYYYMMDD-HHMMSS-DEVICE.EXT: the extension is kept, so match the marker, not the end.
const CONFLICT_COPY = /\.sync-conflict-\d{8}-\d{6}-[A-Z0-9]{7}(\.|$)/;

/** A Syncthing conflict copy: both sides changed a file. Always an alarm, never a job file. */
export function isConflictCopy(name: string): boolean {
  return CONFLICT_COPY.test(name);
}
