/** Text for HTML element content and quoted attributes: the five characters that could break out. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** A number as a table shows it: up to six significant digits. */
export function showNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return "-";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  return String(Number(value.toPrecision(6)));
}

/** A duration in seconds as "1 h 02 min", "3 min 05 s" or "12 s". */
export function showDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600)
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${s} s`;
}

/** A parameter value in a table cell. */
export function showValue(value: unknown): string {
  return typeof value === "number" ? showNumber(value) : (JSON.stringify(value) ?? "-");
}
