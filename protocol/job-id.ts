import { ProtocolError } from "./errors.ts";
import { windowsNameProblem } from "./path-rules.ts";
import { parseUtcStamp, utcStamp } from "./utc-stamp.ts";

export const MAX_JOB_ID_LENGTH = 64;
const PREFIX_LENGTH = "job-YYYYMMDD-HHMMSS-".length;
export const MAX_SLUG_LENGTH = MAX_JOB_ID_LENGTH - PREFIX_LENGTH;
export const MIN_SLUG_LETTERS = 3;

const JOB_ID = /^job-(\d{8})-(\d{6})-([a-z0-9]+(?:-[a-z0-9]+)*)$/;
const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
// SYS_19 rule 3: `job-1`, `test`, `run-2` say nothing about the study.
const GENERIC_SLUG =
  /^(?:job|jobs|test|tmp|temp|run|new|study|opt|optimization|foo|bar|x|untitled|name)(?:-?\d+)?$/;

// Letters NFKD does not decompose into ASCII; without this "Größe" would become "gr-e".
const TRANSLITERATION: Readonly<Record<string, string>> = {
  ß: "ss",
  æ: "ae",
  œ: "oe",
  ø: "o",
  đ: "d",
  ł: "l",
  þ: "th",
};

export interface ParsedJobId {
  job_id: string;
  created_at: Date;
  slug: string;
}

/** Why a slug is refused, or undefined when it is descriptive and safe as a Windows folder name. */
export function slugProblem(slug: string): string | undefined {
  if (!SLUG.test(slug)) {
    return `"${slug}" must be lowercase letters, digits and single hyphens (e.g. "starspec-wfe")`;
  }
  if (slug.length > MAX_SLUG_LENGTH) return `"${slug}" is longer than ${MAX_SLUG_LENGTH} characters`;
  const letters = slug.replace(/[^a-z]/g, "").length;
  if (letters < MIN_SLUG_LETTERS || GENERIC_SLUG.test(slug)) {
    return `"${slug}" is not descriptive (SYS_19 rule 3): name the study, e.g. "starspec-m1-wfe", not "job-1"`;
  }
  const windows = windowsNameProblem(slug);
  if (windows) return `"${slug}" ${windows.detail}`;
  return undefined;
}

/**
 * Turns a descriptive name ("StarSpec M1 WFE sweep") into a slug ("starspec-m1-wfe-sweep"): accents
 * dropped, anything else non-alphanumeric becomes a hyphen. Throws when nothing descriptive is left.
 */
export function slugify(name: string): string {
  const slug = name
    .replace(/[ßæœøđłþ]/gi, (letter) => TRANSLITERATION[letter.toLowerCase()] ?? letter)
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, MAX_SLUG_LENGTH)
    .replace(/-+$/, "");
  const problem = slugProblem(slug);
  if (problem) {
    throw new ProtocolError("invalid_name", `job name ${JSON.stringify(name)} gives slug ${problem}`, {
      name,
      slug,
    });
  }
  return slug;
}

/** `job-YYYYMMDD-HHMMSS-<slug>` in UTC. */
export function makeJobId(name: string, at: Date): string {
  const slug = slugify(name);
  // An invalid Date would otherwise give "job-NaNNaNNaN-..." and a 5-digit year a malformed id.
  const stamp = utcStamp(at);
  if (!stamp) {
    throw new ProtocolError(
      "invalid_job_id",
      `cannot make a job id for ${JSON.stringify(name)}: submission time ${String(at)} is not a valid date with a 4-digit year`,
      { name },
    );
  }
  return `job-${stamp.date}-${stamp.time}-${slug}`;
}

/** Parses and validates a job id; the message says what a valid one looks like. */
export function parseJobId(jobId: string): ParsedJobId {
  const match = JOB_ID.exec(jobId);
  if (!match || jobId.length > MAX_JOB_ID_LENGTH) {
    throw new ProtocolError(
      "invalid_job_id",
      `${JSON.stringify(jobId)} is not a job id: expected job-YYYYMMDD-HHMMSS-<descriptive-slug> (UTC), ` +
        `at most ${MAX_JOB_ID_LENGTH} characters, e.g. job-20260210-143022-starspec-wfe`,
      { job_id: jobId },
    );
  }
  const [, date, time, slug] = match as unknown as [string, string, string, string];
  const created = parseUtcStamp(date, time);
  if (!created) {
    throw new ProtocolError("invalid_job_id", `${JSON.stringify(jobId)} has an impossible date or time`, {
      job_id: jobId,
    });
  }
  const problem = slugProblem(slug);
  if (problem)
    throw new ProtocolError("invalid_job_id", `${JSON.stringify(jobId)}: slug ${problem}`, { job_id: jobId });
  return { job_id: jobId, created_at: created, slug };
}

export function isJobId(name: string): boolean {
  try {
    parseJobId(name);
    return true;
  } catch {
    return false;
  }
}

/** The same job id with a numeric suffix, for two submissions of one name in the same second. */
export function withCollisionSuffix(jobId: string, attempt: number): string {
  const suffix = `-${attempt}`;
  return `${jobId.slice(0, MAX_JOB_ID_LENGTH - suffix.length).replace(/-+$/, "")}${suffix}`;
}
