import { renderAsync } from "@resvg/resvg-js";

/** A plot's PNG stays about this small: it is attached to tool results an agent pays tokens for. */
export const MAX_PLOT_BYTES = 50 * 1024;

/** The narrowest a plot is drawn (of its natural width), whatever its PNG's size then. */
const MIN_FACTOR = 0.55;

export interface RenderedPlot {
  png: Buffer;
  width: number;
  height: number;
}

/**
 * SVG to PNG with resvg (no browser, no Python). System fonts are loaded for the text (DejaVu on
 * Debian, Arial on Windows; the SVG names both); a busy plot is rendered narrower until it fits.
 * Rendered on libuv's thread pool: the server answers other calls meanwhile, and resvg's parsed tree
 * is freed when the render ends, not whenever V8 gets round to collecting a wrapper it sees as small.
 */
export async function renderPlot(svg: string, maxBytes = MAX_PLOT_BYTES): Promise<RenderedPlot> {
  const natural = Number(/width="(\d+)"/.exec(svg)?.[1] ?? 720);
  const render = async (factor: number): Promise<RenderedPlot> => {
    const image = await renderAsync(svg, {
      fitTo: { mode: "width", value: Math.round(natural * factor) },
      font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
      background: "#ffffff",
    });
    return { png: image.asPng(), width: image.width, height: image.height };
  };
  let factor = 1;
  let plot = await render(factor);
  // Measured on scatter plots, a PNG's size grows about linearly with its width (the points stay the
  // same size): one guess at the width that fits, then the narrowest. Each render costs ~50 ms.
  for (let attempt = 0; attempt < 2 && plot.png.length > maxBytes && factor > MIN_FACTOR; attempt++) {
    const guess = attempt === 0 ? factor * (maxBytes / plot.png.length) * 0.95 : MIN_FACTOR;
    factor = Math.max(MIN_FACTOR, Math.min(factor - 0.05, guess));
    plot = await render(factor);
  }
  return plot;
}
