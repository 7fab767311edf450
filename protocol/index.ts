// The on-disk job queue protocol (SYS_19, protocol v2): the only code the submitting side, the runner
// and the plugin share. Every read of the queue more than one side needs lives here.
export type { ArchiveDir } from "./archive-listing.ts";
export {
  archiveDirsOf,
  archivedJobId,
  archivedJobIds,
  jobFolderNames,
  listArchiveDirs,
  queueJobIds,
} from "./archive-listing.ts";
export type { ArchiveDirName } from "./archive-name.ts";
export { archiveDirName, parseArchiveDirName } from "./archive-name.ts";
export type { RetryOptions } from "./atomic-fs.ts";
export {
  pathExists,
  publishDirectory,
  readJsonFile,
  readRegularFileBytes,
  removeTree,
  tempPathFor,
  withFsRetry,
  writeFileAtomic,
  writeJsonAtomic,
} from "./atomic-fs.ts";
export type { JsonLimits } from "./bounded-json.ts";
export {
  checkJsonDepth,
  decodeUtf8Strict,
  parseJsonBytes,
  parseJsonText,
  readBoundedBytes,
} from "./bounded-json.ts";
export type {
  CopyFileOptions,
  CopyFileResult,
  CopyFilesOptions,
  CopyRefusal,
  CopyReport,
  WantedFile,
} from "./copy-verify.ts";
export { copyVerifiedFile, copyVerifiedFiles, wantedFiles } from "./copy-verify.ts";
export type { DirStamp, DirWatch, DirWatchHandlers } from "./dir-watch.ts";
export { dirStamp, RACY_STAMP_MS, sameStamp, settledStamp, watchDir } from "./dir-watch.ts";
export type { ProtocolErrorCode } from "./errors.ts";
export { errnoCode, isProtocolError, ProtocolError } from "./errors.ts";
export { parseJob, parseJobBytes, readJob, writeJob } from "./job-file.ts";
export type { ParsedJobId } from "./job-id.ts";
export {
  isJobId,
  MAX_JOB_ID_LENGTH,
  MAX_SLUG_LENGTH,
  makeJobId,
  parseJobId,
  slugify,
  slugProblem,
  withCollisionSuffix,
} from "./job-id.ts";
export type { Labels } from "./job-labels.ts";
export { LabelNameSchema, LabelsSchema } from "./job-labels.ts";
export type { CancelRead, JobDirs } from "./job-paths.ts";
export {
  cancelRequestPath,
  fetchReceiptPath,
  hasFetchReceipt,
  jobDirs,
  readCancelRequest,
} from "./job-paths.ts";
export type { JobRead } from "./job-read.ts";
export { jobOf, readJobAt } from "./job-read.ts";
export type {
  CancelRequest,
  ErrorKind,
  FetchReceipt,
  FileEntry,
  Job,
  JobError,
  JobStatus,
  Notify,
  Progress,
  ResultsManifest,
  RunnerHeartbeat,
  RunnerInfo,
  SubmittedJob,
  TerminalStatus,
} from "./job-schema.ts";
export {
  CancelRequestSchema,
  describeZodError,
  ERROR_KINDS,
  ErrorKindSchema,
  FetchReceiptSchema,
  FileEntrySchema,
  IsoTimeSchema,
  JOB_STATUSES,
  JobErrorSchema,
  JobSchema,
  JobStatusSchema,
  NotifySchema,
  ProgressSchema,
  ResultsManifestSchema,
  RunnerHeartbeatSchema,
  RunnerInfoSchema,
  SCHEMA_VERSION,
  SubmittedJobSchema,
  TERMINAL_STATUSES,
  TerminalStatusSchema,
} from "./job-schema.ts";
export {
  cancelSignedFields,
  heartbeatSignedFields,
  JOB_SIGNATURE_FIELD,
  jobSignedFields,
  RECORD_SIGNATURE_FIELD,
  recordSignedFields,
  signCancelRequest,
  signHeartbeat,
  signJob,
  signRecord,
  verifyCancelSignature,
  verifyHeartbeatSignature,
  verifyJobSignature,
  verifyRecordSignature,
} from "./job-signatures.ts";
export type { KeyedSerial } from "./keyed-serial.ts";
export { createKeyedSerial } from "./keyed-serial.ts";
export {
  MAX_AGENT_NAME_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_JOB_FILE_BYTES,
  MAX_JOB_NAME_LENGTH,
  MAX_JSON_DEPTH,
  MAX_MANIFEST_ENTRIES,
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  MAX_PROJECT_LENGTH,
  MAX_TRUSTED_KEYS,
  QUEUE_LIMITS,
} from "./limits.ts";
export type { LogTail, LogTailOptions } from "./log-tail.ts";
export { LOG_TAIL_BYTES, LOG_TAIL_LINES, readLogTail, tailLines } from "./log-tail.ts";
export type {
  HashedFile,
  HashOptions,
  JobTreeListing,
  ManifestCheck,
  ReadBuffers,
  SizeProblem,
  VerifyOptions,
} from "./manifest.ts";
export {
  buildManifest,
  copyAndHashFile,
  describeManifestCheck,
  hashFile,
  listJobTree,
  readBuffers,
  STREAM_CHUNK,
  verifyManifest,
} from "./manifest.ts";
// NATS: types only here. The functions are imported from protocol/nats-*.ts directly, so a folder-queue
// process never loads the NATS client (about 75 ms and 23 MB resident to import it).
export type { ClaimOutcome } from "./nats-claims.ts";
export type { NatsQueue, NatsSettings } from "./nats-connect.ts";
export type { NatsSetupOptions } from "./nats-setup.ts";
export type { PathRule, PathViolation } from "./path-rules.ts";
export { checkJobPath, checkJobPaths, MAX_RELATIVE_PATH_LENGTH, windowsNameProblem } from "./path-rules.ts";
export { isProcessAlive, pidAlive } from "./pid-alive.ts";
export type { QueuePaths, QueueSide } from "./queue-layout.ts";
export {
  ATOMIC_TEMP_PREFIX,
  ATOMIC_TEMP_SUFFIX,
  CANCEL_DIR,
  checkQueueLayout,
  FOLDER_WRITERS,
  initQueue,
  JOB_ENV,
  JOB_FILE,
  LOG_FILE,
  PROGRESS_FILE,
  queuePaths,
  README_FILE,
  RESULTS_DIR,
  RUNNERS_DIR,
  SPEC_FILE,
  STIGNORE_LINES,
  STUDY_DB,
  SUBMITTER_STATE_DIR,
} from "./queue-layout.ts";
export type { OpenRegularOptions } from "./safe-open.ts";
export {
  describeFileKind,
  isInsideFolder,
  lstatRegularFile,
  openRegularFile,
  sameFile,
} from "./safe-open.ts";
export type { Signature, SignatureCheck, SignatureFailure, SignedPurpose } from "./signatures.ts";
export {
  canonicalJson,
  SIGNATURE_ALG,
  SignatureSchema,
  signedBytes,
  signFields,
  verifyFields,
} from "./signatures.ts";
export type { GeneratedKeyPair, SigningKey, TrustedKey } from "./signing-keys.ts";
export {
  checkKeyOutsideQueue,
  generateKeyPairFiles,
  keyIdOf,
  loadSigningKey,
  loadTrustedKeys,
  syncedFolderAbove,
} from "./signing-keys.ts";
export {
  assertTransition,
  asTerminalStatus,
  canTransition,
  isTerminal,
  TRANSITIONS,
  transition,
  update,
} from "./state-machine.ts";
export type { BestTrial, StudyDb, StudyDbOptions, StudyRow } from "./study-db.ts";
export { decodeParam, OPTUNA_TABLES, openStudyDb, optunaTimeToIso } from "./study-db.ts";
export type {
  CompleteTrials,
  ParamDistribution,
  StudyTrial,
  StudyTrials,
  TrialSelection,
} from "./study-trials.ts";
export { isConflictCopy, isSyncthingArtefact, syncthingTempTarget } from "./syncthing-names.ts";
export { packageVersion } from "./version.ts";
export { writeAll } from "./write-all.ts";
