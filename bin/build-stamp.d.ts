export declare const STAMP_FILE: string;

export interface SourceRecord {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** What dist/build-stamp.json holds: every source file the build read, and the mtime of each folder. */
export interface SourceStamp {
  files: Record<string, SourceRecord>;
  folders: Record<string, number>;
}

export declare function sourceTree(root: string): { files: string[]; folders: string[] };
export declare function describeSources(root: string): SourceStamp;
export declare function stampIsCurrent(root: string): boolean;
