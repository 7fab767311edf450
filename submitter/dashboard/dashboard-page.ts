import type { CatalogRow } from "../catalog/job-catalog.ts";
import type { RunnerView } from "../jobs/runners.ts";
import { escapeHtml } from "../results/report/html-text.ts";
import { DASHBOARD_STYLE, jobRowHtml, runnersHtml } from "./dashboard-view.ts";

/** Newest first, as list_jobs shows them. */
export function sortRows(rows: readonly CatalogRow[]): CatalogRow[] {
  return rows
    .filter((row) => row.state !== "unknown")
    .sort(
      (a, b) => (b.created_at ?? "").localeCompare(a.created_at ?? "") || b.job_id.localeCompare(a.job_id),
    );
}

/** The whole first page, with every job already in it. */
export function dashboardPage(
  queueRoot: string,
  rows: readonly CatalogRow[],
  runners: readonly RunnerView[],
  now: Date,
): string {
  const body = sortRows(rows)
    .map((row) => jobRowHtml(row, runners, now))
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>atomizer-jobs: queue</title><style>${DASHBOARD_STYLE}</style></head>
<body><main>
<span id="live" class="sub">static page (no live updates yet)</span>
<h1>Job queue</h1><div class="sub">${escapeHtml(queueRoot)} · read-only</div>
<h2>Runners</h2><div id="runners">${runnersHtml(runners, now)}</div>
<h2>Jobs</h2>
<table><thead><tr><th>job</th><th>state</th><th>trials</th><th>best</th><th>submitted</th></tr></thead>
<tbody id="jobs">${body}</tbody></table>
<p id="empty" class="sub"${rows.length > 0 ? " hidden" : ""}>No jobs in the queue.</p>
</main><script src="/dashboard.js"></script></body></html>
`;
}
