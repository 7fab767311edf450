import { Resvg } from "@resvg/resvg-js";

/** A plot's PNG stays about this small: it is attached to tool results an agent pays tokens for. */
export const MAX_PLOT_BYTES = 50 * 1024;

/** Widths tried in turn until the PNG fits MAX_PLOT_BYTES; the last is used whatever its size. */
const WIDTHS = [1.0, 0.85, 0.7, 0.55];

export interface RenderedPlot {
  png: Buffer;
  width: number;
  height: number;
}

/**
 * SVG to PNG with resvg (no browser, no Python). System fonts are loaded for the text (DejaVu on
 * Debian, Arial on Windows; the SVG names both); a busy plot is rendered narrower until it fits.
 */
export function renderPlot(svg: string, maxBytes = MAX_PLOT_BYTES): RenderedPlot {
  const natural = Number(/width="(\d+)"/.exec(svg)?.[1] ?? 720);
  let last: RenderedPlot | undefined;
  for (const factor of WIDTHS) {
    const resvg = new Resvg(svg, {
      fitTo: { mode: "width", value: Math.round(natural * factor) },
      font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
      background: "#ffffff",
    });
    const image = resvg.render();
    last = { png: image.asPng(), width: image.width, height: image.height };
    if (last.png.length <= maxBytes) return last;
  }
  return last as RenderedPlot;
}
