import type { FileEntry, Job } from "../../protocol/index.ts";

/** What makes two submissions the same job, for idempotency_key (names, times and ids aside). */
export interface JobContent {
  project: string;
  channel: string;
  type: string;
  script: string;
  args: string[];
  notify: { on_complete: boolean; on_fail: boolean };
  files: FileEntry[];
  timeout_s?: number;
  resumed_from?: string;
  labels?: Record<string, string>;
}

export function sameContent(existing: Job, wanted: JobContent, slug: string): boolean {
  const existingSlug = existing.job_id.replace(/^job-\d{8}-\d{6}-/, "");
  const slugMatches = existingSlug === slug || new RegExp(`^${slug}-\\d+$`).test(existingSlug);
  const manifest = (files: readonly FileEntry[] | undefined) =>
    JSON.stringify((files ?? []).map((file) => [file.path, file.size, file.sha256]));
  return (
    slugMatches &&
    existing.project === wanted.project &&
    existing.channel === wanted.channel &&
    existing.type === wanted.type &&
    existing.script === wanted.script &&
    JSON.stringify(existing.args) === JSON.stringify(wanted.args) &&
    existing.notify.on_complete === wanted.notify.on_complete &&
    existing.notify.on_fail === wanted.notify.on_fail &&
    existing.timeout_s === wanted.timeout_s &&
    existing.resumed_from === wanted.resumed_from &&
    sameLabels(existing.labels, wanted.labels) &&
    manifest(existing.files) === manifest(wanted.files)
  );
}

/** Labels compared as sets of name=value: their order in job.json says nothing. */
function sameLabels(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const text = (labels: Record<string, string> | undefined) =>
    JSON.stringify(Object.entries(labels ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return text(a) === text(b);
}
