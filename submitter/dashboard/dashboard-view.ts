import type { CatalogRow } from "../catalog/job-catalog.ts";
import type { RunnerView } from "../jobs/runners.ts";
import { escapeHtml, showDuration, showNumber } from "../results/report/html-text.ts";

// The dashboard's HTML, rendered on the server only: the first page and every live update use the
// same functions, so the page works before (and without) its script, and the script only swaps rows.

/** "3 min 05 s ago" from an ISO time; the page's script keeps it current from data-time. */
function age(iso: string | undefined, now: Date): string {
  if (!iso) return "-";
  const at = Date.parse(iso);
  return Number.isNaN(at) ? "-" : `${showDuration((now.getTime() - at) / 1000)} ago`;
}

/** The licence wait a runner reports for the NX jobs it holds back, when it holds this one. */
export function licenceWait(jobId: string, runners: readonly RunnerView[]): string | undefined {
  return runners.find((runner) => runner.waiting_for && runner.queued.includes(jobId))?.waiting_for;
}

export function rowId(jobId: string): string {
  return `job-${jobId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

function progressCell(row: CatalogRow): string {
  const done = row.trials_complete;
  if (done === undefined) return `<td class="trials">-</td>`;
  const planned = row.trials_planned ?? undefined;
  const percent = planned ? Math.min(100, Math.round((done / planned) * 100)) : undefined;
  const bar =
    percent === undefined
      ? ""
      : `<span class="bar" role="progressbar" aria-valuenow="${percent}" aria-valuemin="0" aria-valuemax="100"><span style="width:${percent}%"></span></span>`;
  return `<td class="trials">${bar}<span class="count">${done}${planned ? ` / ${planned}` : ""}</span></td>`;
}

/** One job's table row. */
export function jobRowHtml(row: CatalogRow, runners: readonly RunnerView[], now: Date): string {
  const wait = row.state === "queued" ? licenceWait(row.job_id, runners) : undefined;
  const detail = [
    wait ? `waiting: ${wait}` : undefined,
    row.error_kind ? `error: ${row.error_kind}` : undefined,
    row.problem,
  ].filter((text): text is string => text !== undefined);
  return `<tr id="${rowId(row.job_id)}" data-job="${escapeHtml(row.job_id)}" data-state="${escapeHtml(row.state)}">
<td class="job"><code>${escapeHtml(row.job_id)}</code><div class="sub">${escapeHtml(row.project ?? "")}${row.created_by ? ` · ${escapeHtml(row.created_by)}` : ""}</div></td>
<td><span class="state ${escapeHtml(row.state)}">${escapeHtml(row.state)}</span>${detail.map((text) => `<div class="detail">${escapeHtml(text)}</div>`).join("")}</td>
${progressCell(row)}
<td class="best">${row.best_value === undefined ? "-" : escapeHtml(showNumber(row.best_value))}</td>
<td class="age" data-time="${escapeHtml(row.created_at ?? "")}">${escapeHtml(age(row.created_at, now))}</td>
</tr>`;
}

/** The runners' block: liveness and what they wait for. */
export function runnersHtml(runners: readonly RunnerView[], now: Date): string {
  if (runners.length === 0) return `<p class="sub">No runner has published a heartbeat yet.</p>`;
  const items = runners.map((runner) => {
    const liveness = runner.problem
      ? "unreadable"
      : runner.stopped_at
        ? "stopped"
        : runner.silent
          ? "silent"
          : "active";
    const facts = runner.problem
      ? escapeHtml(runner.problem)
      : `last seen <span data-time="${escapeHtml(runner.last_seen ?? "")}">${escapeHtml(age(runner.last_seen, now))}</span>, ${runner.slots ?? "?"} slots, running ${runner.running.length}, queued ${runner.queued.length}${runner.waiting_for ? `; <b>waiting: ${escapeHtml(runner.waiting_for)}</b>` : ""}`;
    return `<li><span class="live ${liveness}">${liveness}</span> <b>${escapeHtml(runner.host)}</b> ${facts}</li>`;
  });
  return `<ul class="runners">${items.join("")}</ul>`;
}

export const DASHBOARD_STYLE = `body{font:14px/1.4 "DejaVu Sans","Segoe UI",Arial,sans-serif;margin:0;background:#f6f6f4;color:#222}
main{max-width:1100px;margin:0 auto;padding:20px}h1{font-size:20px;margin:0}h2{font-size:16px;margin:22px 0 6px}
.sub{color:#666;font-size:12px}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e2e2e2;padding:6px 8px;text-align:left;vertical-align:top}th{background:#eee}
.state,.live{display:inline-block;padding:1px 8px;border-radius:10px;background:#ddd;font-size:12px}
.running,.active{background:#cfe0f7}.completed{background:#cdeccd}.failed,.silent,.unreadable{background:#f5c6c6}
.cancelled,.stopped{background:#eee0c0}.queued,.submitted{background:#f2ecc2}.detail{font-size:12px;color:#8a5a00}
.bar{display:inline-block;width:120px;height:10px;background:#e4e4e4;border-radius:5px;margin-right:6px;vertical-align:middle;overflow:hidden}
.bar span{display:block;height:100%;background:#3b6fb6}.runners{padding-left:18px}#live{float:right}`;
