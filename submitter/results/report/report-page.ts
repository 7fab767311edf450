import type { Job } from "../../../protocol/index.ts";
import type { StudySummary } from "../study-summary.ts";
import { escapeHtml, showDuration, showNumber, showValue } from "./html-text.ts";

/** Everything the report shows, gathered by job-report.ts; rendering does no I/O. */
export interface ReportData {
  jobId: string;
  state: string;
  generatedAt: Date;
  job: Job | undefined;
  workDir: string;
  files: { copied: number; total: number; complete: boolean };
  studies: readonly StudySummary[];
  studyError?: string;
  plots: readonly { path: string; png: Buffer }[];
  logTail: readonly string[];
  readme?: string;
}

const STYLE = `body{font:14px/1.45 "DejaVu Sans","Segoe UI",Arial,sans-serif;margin:0;color:#222;background:#f6f6f4}
main{max-width:1000px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#666}table{border-collapse:collapse;background:#fff;margin:6px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eee}.row{display:flex;flex-wrap:wrap;gap:0 28px}.plots img{max-width:100%;display:block;margin:10px 0;border:1px solid #ddd;background:#fff}
pre{background:#fff;border:1px solid #ddd;padding:10px;overflow:auto;white-space:pre-wrap;max-height:420px}
.state{display:inline-block;padding:1px 8px;border-radius:10px;background:#ddd}.completed{background:#cdeccd}.failed{background:#f5c6c6}.cancelled{background:#eee0c0}`;

function rows(pairs: readonly [string, string | undefined][]): string {
  return pairs
    .filter((pair): pair is [string, string] => pair[1] !== undefined && pair[1] !== "")
    .map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(value)}</td></tr>`)
    .join("");
}

function timing(job: Job | undefined): string {
  if (!job) return "";
  const seconds = (from?: string, to?: string) =>
    from && to ? showDuration((Date.parse(to) - Date.parse(from)) / 1000) : undefined;
  return `<div><h2>Timing</h2><table>${rows([
    ["created", job.created_at],
    ["queued", job.queued_at],
    ["started", job.started_at],
    ["finished", job.finished_at],
    ["waited before start", seconds(job.created_at, job.started_at)],
    ["ran for", seconds(job.started_at, job.finished_at)],
  ])}</table></div>`;
}

function table(head: readonly string[], body: readonly (readonly string[])[]): string {
  const th = head.map((cell) => `<th>${escapeHtml(cell)}</th>`).join("");
  const tr = body.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join("")}</tr>`);
  return `<table><tr>${th}</tr>${tr.join("")}</table>`;
}

function studySection(study: StudySummary): string {
  const counts = table(
    ["state", "trials"],
    [
      ...Object.entries(study.trials).map(([state, n]) => [state, String(n)]),
      ["total", String(study.trials_total)],
    ],
  );
  let best: string;
  if (study.pareto) {
    const set = study.pareto;
    const params = [...new Set(set.trials.flatMap((trial) => Object.keys(trial.params)))];
    const caption = `Pareto front: ${set.total} trials${set.feasible_only ? ` of feasible trials (${set.infeasible ?? 0} infeasible left out)` : ""}${set.total > set.trials.length ? `, first ${set.trials.length} ${set.order}` : `, ${set.order}`}${set.note ? `; ${set.note}` : ""}`;
    best = `<p>${escapeHtml(caption)}</p>${table(
      ["trial", ...study.directions.map((d, i) => `objective ${i} (${d})`), ...params],
      set.trials.map((trial) => [
        String(trial.number),
        ...trial.values.map((value) => showNumber(value)),
        ...params.map((name) => showValue(trial.params[name])),
      ]),
    )}`;
  } else {
    const one = study.best[0];
    best =
      one && one.trial_number !== null
        ? `<p>Best trial ${one.trial_number}: ${escapeHtml(showNumber(one.value))} (${escapeHtml(one.direction)})</p>${table(
            ["parameter", "value"],
            Object.entries(one.params).map(([name, value]) => [name, showValue(value)]),
          )}`
        : "<p>No trial completed with a finite value.</p>";
  }
  return `<h2>Study ${escapeHtml(study.study_name)}</h2><p class="sub">direction ${escapeHtml(study.directions.join(", "))}</p><div class="row"><div>${counts}</div><div>${best}</div></div>`;
}

/** One self-contained HTML file: inline CSS, plots as data: URIs, no script, nothing fetched. */
export function renderReport(data: ReportData): string {
  const job = data.job;
  const stateClass = data.state.split(" ")[0] ?? "";
  const summary = rows([
    ["job", data.jobId],
    ["project", job?.project],
    ["submitted by", job?.created_by],
    ["script", job ? [job.script, ...job.args].join(" ") : undefined],
    ["runner", job?.runner?.host],
    [
      "exit code",
      job?.exit_code === undefined || job?.exit_code === null ? undefined : String(job.exit_code),
    ],
    ["error", job?.error ? JSON.stringify(job.error) : undefined],
    [
      "result files",
      `${data.files.copied} of ${data.files.total} copied and verified${data.files.complete ? "" : " (incomplete)"}`,
    ],
    ["working folder", data.workDir],
  ]);
  const plots = data.plots
    .map(
      (plot) =>
        `<img alt="${escapeHtml(plot.path)}" title="${escapeHtml(plot.path)}" src="data:image/png;base64,${plot.png.toString("base64")}">`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.jobId)}: report</title><style>${STYLE}</style></head>
<body><main>
<h1>${escapeHtml(data.jobId)}</h1>
<p class="sub"><span class="state ${escapeHtml(stateClass)}">${escapeHtml(data.state)}</span> report written ${escapeHtml(data.generatedAt.toISOString())}</p>
<div class="row"><div><h2>Summary</h2><table>${summary}</table></div>
${timing(job)}</div>
${data.studies.map(studySection).join("\n")}
${data.studyError ? `<h2>Study</h2><p>${escapeHtml(data.studyError)}</p>` : ""}
${plots ? `<h2>Plots</h2><div class="plots">${plots}</div>` : data.studies.length > 0 ? "<h2>Plots</h2><p>No plots: no trial completed with a finite value.</p>" : ""}
<h2>Last log lines</h2><pre>${escapeHtml(data.logTail.join("\n")) || "(empty)"}</pre>
<h2>README</h2><pre>${data.readme === undefined ? "(no README.md)" : escapeHtml(data.readme)}</pre>
</main></body></html>
`;
}
