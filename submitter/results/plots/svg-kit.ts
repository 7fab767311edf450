// The few SVG pieces every plot shares: scales, ticks, axes, text. Plain strings: a plot is small and
// its SVG is rendered once, so a DOM or a charting library would only add weight.

/** Fonts tried in order: Windows has Arial and Segoe UI, Debian DejaVu or Liberation. */
export const FONT_FAMILY = "DejaVu Sans, Liberation Sans, Arial, Segoe UI, sans-serif";

export const COLORS = {
  ink: "#222222",
  grid: "#e4e4e4",
  muted: "#9a9a9a",
  point: "#3b6fb6",
  best: "#d1495b",
  front: "#d1495b",
  infeasible: "#e0a100",
} as const;

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

export type Scale = (value: number) => number;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** Four significant digits; exponent form only for very large or small magnitudes. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? "inf" : value < 0 ? "-inf" : "nan";
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

/** [min, max] of finite values, widened when flat so a scale never divides by zero. */
export function extent(values: readonly number[]): [number, number] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const value of values) {
    if (!Number.isFinite(value)) continue;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  if (min > max) return [0, 1];
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 1;
    return [min - pad, max + pad];
  }
  return [min, max];
}

/** Maps a domain onto pixels, with a margin so points on the edge stay inside; log when asked and possible. */
export function linearScale(domain: [number, number], range: [number, number], log = false): Scale {
  const useLog = log && domain[0] > 0 && domain[1] > 0;
  const map = useLog ? Math.log10 : (value: number) => value;
  const low = map(domain[0]);
  const high = map(domain[1]);
  const pad = (high - low) * 0.04;
  const d0 = low - pad;
  const d1 = high + pad;
  return (value) => range[0] + ((map(value) - d0) / (d1 - d0)) * (range[1] - range[0]);
}

/** About `count` round tick values inside [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  const span = max - min;
  if (!(span > 0) || !Number.isFinite(span)) return [min];
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= raw) ?? raw;
  const ticks: number[] = [];
  for (let tick = Math.ceil(min / step) * step; tick <= max + step * 1e-9; tick += step) {
    ticks.push(Math.abs(tick) < step * 1e-9 ? 0 : Number(tick.toPrecision(12)));
  }
  return ticks;
}

export function text(
  x: number,
  y: number,
  content: string,
  options: { size?: number; anchor?: "start" | "middle" | "end"; color?: string; rotate?: boolean } = {},
): string {
  const transform = options.rotate ? ` transform="rotate(-90 ${x.toFixed(1)} ${y.toFixed(1)})"` : "";
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${options.size ?? 12}" text-anchor="${options.anchor ?? "start"}" fill="${options.color ?? COLORS.ink}"${transform}>${escapeXml(content)}</text>`;
}

export function circle(x: number, y: number, r: number, fill: string, opacity = 1, stroke = "none"): string {
  return `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${r}" fill="${fill}" fill-opacity="${opacity}" stroke="${stroke}"/>`;
}

/** `crisp`: no anti-aliasing; many crossing lines then compress to a PNG a fraction of the size. */
export function polyline(
  points: readonly [number, number][],
  color: string,
  width = 1.5,
  crisp = false,
): string {
  const list = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  const rendering = crisp ? ' shape-rendering="crispEdges"' : "";
  return `<polyline points="${list}" fill="none" stroke="${color}" stroke-width="${width}"${rendering}/>`;
}

/** A box's frame, grid lines and tick labels on both axes, and the axis titles. */
export function axes(
  box: Box,
  x: { scale: Scale; domain: [number, number]; title: string; labels?: readonly string[] },
  y: { scale: Scale; domain: [number, number]; title: string },
  size = 11,
): string[] {
  const parts: string[] = [];
  const bottom = box.top + box.height;
  parts.push(
    `<rect x="${box.left}" y="${box.top}" width="${box.width}" height="${box.height}" fill="none" stroke="${COLORS.muted}"/>`,
  );
  for (const tick of niceTicks(y.domain[0], y.domain[1], 5)) {
    const py = y.scale(tick);
    if (py < box.top || py > bottom) continue;
    parts.push(
      `<line x1="${box.left}" x2="${box.left + box.width}" y1="${py.toFixed(1)}" y2="${py.toFixed(1)}" stroke="${COLORS.grid}"/>`,
      text(box.left - 5, py + 4, formatNumber(tick), { size, anchor: "end" }),
    );
  }
  const xTicks = x.labels ? x.labels.map((_, index) => index) : niceTicks(x.domain[0], x.domain[1], 6);
  for (const tick of xTicks) {
    const px = x.scale(tick);
    if (px < box.left - 0.5 || px > box.left + box.width + 0.5) continue;
    const label = x.labels ? (x.labels[tick] ?? "") : formatNumber(tick);
    parts.push(
      `<line x1="${px.toFixed(1)}" x2="${px.toFixed(1)}" y1="${bottom}" y2="${bottom + 4}" stroke="${COLORS.muted}"/>`,
      text(px, bottom + 16, label.slice(0, 14), { size, anchor: "middle" }),
    );
  }
  parts.push(
    text(box.left + box.width / 2, bottom + 32, x.title, { size, anchor: "middle" }),
    text(box.left - 46, box.top + box.height / 2, y.title, { size, anchor: "middle", rotate: true }),
  );
  return parts;
}

/** A whole SVG document: white background, the title and a subtitle line. */
export function svgDocument(
  width: number,
  height: number,
  title: string,
  subtitle: string,
  body: readonly string[],
): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(16, 24, title, { size: 15 }),
    text(16, 42, subtitle, { size: 11, color: "#555555" }),
    ...body,
    "</svg>",
  ].join("\n");
}
