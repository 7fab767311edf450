/**
 * The page's script: follows /events and swaps in the rows the server rendered; keeps ages current.
 * A string served as /dashboard.js (the CSP allows scripts from the page's own origin only).
 */
export const DASHBOARD_SCRIPT = `"use strict";
(() => {
  const live = document.getElementById("live");
  const jobs = document.getElementById("jobs");
  const empty = document.getElementById("empty");
  const fromHtml = (html) => {
    const body = document.createElement("tbody");
    body.innerHTML = html;
    return body.firstElementChild;
  };
  const events = new EventSource("/events");
  events.addEventListener("open", () => { live.textContent = "live"; });
  events.addEventListener("error", () => { live.textContent = "reconnecting..."; });
  events.addEventListener("job", (event) => {
    const change = JSON.parse(event.data);
    const old = document.getElementById(change.id);
    if (change.removed) { if (old) old.remove(); }
    else if (old) old.replaceWith(fromHtml(change.html));
    else jobs.prepend(fromHtml(change.html));
    empty.hidden = jobs.children.length > 0;
  });
  events.addEventListener("runners", (event) => {
    document.getElementById("runners").innerHTML = JSON.parse(event.data).html;
  });
  const duration = (s) => s >= 3600 ? Math.floor(s / 3600) + " h " + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + " min"
    : s >= 60 ? Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s" : s + " s";
  setInterval(() => {
    for (const cell of document.querySelectorAll("[data-time]")) {
      const at = Date.parse(cell.dataset.time);
      if (!Number.isNaN(at)) cell.textContent = duration(Math.max(0, Math.round((Date.now() - at) / 1000))) + " ago";
    }
  }, 1000);
})();
`;
