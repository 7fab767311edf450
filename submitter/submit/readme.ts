export interface ReadmeFacts {
  name: string;
  project: string;
  channel: string;
  type: string;
  script: string;
  args: readonly string[];
  createdBy: string;
  timeoutS: number | undefined;
  files: readonly { path: string; size: number }[];
  /** The job whose Optuna study (3_results/study.db) this one continues. */
  resumedFrom?: string;
  resumedTrials?: number;
}

const MAX_LISTED_FILES = 60;

function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}

/**
 * SYS_19 rule 4: the engineer at the workstation reads README.md to know what a job does. Deterministic
 * (no time, no job id) so an idempotent resubmission produces the same bytes.
 */
export function generateReadme(facts: ReadmeFacts): string {
  const command = [facts.script, ...facts.args].map((part) =>
    /\s/.test(part) ? JSON.stringify(part) : part,
  );
  const listed = facts.files
    .slice(0, MAX_LISTED_FILES)
    .map((file) => `- \`${file.path}\` (${formatSize(file.size)})`);
  if (facts.files.length > MAX_LISTED_FILES)
    listed.push(`- ... and ${facts.files.length - MAX_LISTED_FILES} more`);
  return [
    `# ${facts.name}`,
    "",
    `Generated description (the study folder had no README.md).`,
    "",
    `- Project: ${facts.project} (channel ${facts.channel})`,
    `- Type: ${facts.type}`,
    `- Submitted by: ${facts.createdBy}`,
    `- Runs: \`${command.join(" ")}\``,
    ...(facts.timeoutS !== undefined ? [`- Time limit: ${facts.timeoutS} s`] : []),
    ...(facts.resumedFrom !== undefined
      ? [
          `- Continues the Optuna study of ${facts.resumedFrom} (\`3_results/study.db\`, ${facts.resumedTrials ?? 0} trials so far)`,
        ]
      : []),
    "",
    "## Files",
    "",
    ...listed,
    "",
  ].join("\n");
}
