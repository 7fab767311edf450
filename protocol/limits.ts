// The bounds every job and every queue file must respect (docs/PROTOCOL.md section 11), in one place so
// the submitting side, the runner and the docs can never disagree. Files from the other machine are
// data, not trusted input: each bound turns an input that would hang, crash or exhaust a reader
// (a 10,000-deep field, a 2 GB job.json, a 5,000-byte path) into a refusal that names the limit.

/**
 * Longest job.json (and any other queue JSON file) a reader accepts. A full manifest
 * (MAX_MANIFEST_ENTRIES entries of about 250 bytes pretty-printed) plus a full results manifest fits
 * in about 10 MB; beyond that a file is broken or hostile, and reading it would hold it in memory whole.
 */
export const MAX_JOB_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Deepest nesting of objects and arrays a queue JSON file may have. The deepest field the protocol
 * defines (results.files[i].path) sits at depth 4; 64 leaves room for a newer writer's fields while
 * keeping every recursive reader (JSON.stringify, schema checks) far from the call-stack limit.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Most entries a manifest (`files`, or `results.files`) may list: the submitter already refuses a
 * study folder with more files, and every entry costs the runner a stat and a hash.
 */
export const MAX_MANIFEST_ENTRIES = 20_000;

/**
 * Longest job path in UTF-8 bytes. Far above MAX_RELATIVE_PATH_LENGTH; checked first, before any
 * other rule looks at the text, so a huge path is refused without any fs call (no ENAMETOOLONG) and
 * without scanning megabytes.
 */
export const MAX_PATH_BYTES = 4096;

/** Longest single file or folder name in UTF-8 bytes: what ext4 and most Linux filesystems hold. */
export const MAX_NAME_BYTES = 255;

/**
 * Longest relative path (in UTF-16 units, as Windows counts) a job file may have. A default Windows
 * setup allows 260 characters in a whole path: a queue root of up to 50 characters, `\outbox\`, a job
 * id of up to 64 characters, Syncthing's `~syncthing~` + `.tmp` temp-name decoration and a separator
 * leave about 120 for the path inside the job.
 */
export const MAX_RELATIVE_PATH_LENGTH = 120;

/** Every limit by name, for tools and docs that list them. */
export const QUEUE_LIMITS = Object.freeze({
  max_job_file_bytes: MAX_JOB_FILE_BYTES,
  max_json_depth: MAX_JSON_DEPTH,
  max_manifest_entries: MAX_MANIFEST_ENTRIES,
  max_path_bytes: MAX_PATH_BYTES,
  max_name_bytes: MAX_NAME_BYTES,
  max_relative_path_length: MAX_RELATIVE_PATH_LENGTH,
});

/** Longest job name a submitter may give; its slug is cut to fit MAX_JOB_ID_LENGTH. */
export const MAX_JOB_NAME_LENGTH = 120;

/** Longest project slug (job.json `project`; also the default channel's name). */
export const MAX_PROJECT_LENGTH = 64;

/** Longest agent name (`created_by`, `requested_by`). */
export const MAX_AGENT_NAME_LENGTH = 64;

/** Longest idempotency key a submission may carry (job.json `idempotency_key`). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

/** Most public keys one reader trusts at once (a runner heartbeat lists their ids): rotation needs two. */
export const MAX_TRUSTED_KEYS = 32;
