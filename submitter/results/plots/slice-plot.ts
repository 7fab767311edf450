import type { PlotStudy } from "./plot-study.ts";
import { objectiveTitle, objectiveValues, stateLine } from "./plot-study.ts";
import { axes, COLORS, circle, extent, linearScale, svgDocument } from "./svg-kit.ts";

/** Panels per figure; a study with more parameters says how many were left out. */
export const MAX_SLICE_PARAMS = 6;
/** Points per panel: a 150 px panel shows where good values lie with a few hundred. */
const MAX_SLICE_POINTS = 400;
const COLUMNS = 3;
const PANEL_W = 230;
const PANEL_H = 170;
const INNER = { left: 62, top: 14, width: 150, height: 104 };

/** Every k-th point, in order, so a panel spans the whole study. */
function thinned<T>(points: readonly T[], max: number): T[] {
  const step = Math.ceil(points.length / max);
  return step <= 1 ? [...points] : points.filter((_, index) => index % step === 0);
}

function numeric(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/**
 * Each parameter against one objective, one panel per parameter: where the good values lie. A
 * categorical parameter gets one column per choice; a log-sampled one a log axis.
 */
export function sliceSvg(study: PlotStudy, objective: number): string | undefined {
  const values = objectiveValues(study, objective);
  const { infinite } = values;
  const finite = thinned(values.finite, MAX_SLICE_POINTS);
  const names = [...study.distributions.keys()];
  if (finite.length === 0 || names.length === 0) return undefined;
  const shown = names.slice(0, MAX_SLICE_PARAMS);
  const rows = Math.ceil(shown.length / COLUMNS);
  const width = 40 + Math.min(shown.length, COLUMNS) * PANEL_W;
  const height = 60 + rows * PANEL_H;
  const yDomain = extent(finite.map((point) => point.value));
  const body: string[] = [];
  shown.forEach((name, index) => {
    const distribution = study.distributions.get(name);
    const left = 20 + (index % COLUMNS) * PANEL_W + INNER.left;
    const top = 52 + Math.floor(index / COLUMNS) * PANEL_H + INNER.top;
    const box = { left, top, width: INNER.width, height: INNER.height };
    const y = linearScale(yDomain, [top + box.height, top]);
    const categorical = distribution?.kind === "categorical";
    const labels = categorical ? distribution.choices.map((choice) => String(choice)) : undefined;
    const position = (value: unknown): number | undefined => {
      if (!categorical) return numeric(value);
      const at = distribution.choices.indexOf(value);
      return at >= 0 ? at : undefined;
    };
    const xs = finite.map((point) => position(point.trial.params[name]));
    const xDomain: [number, number] = labels
      ? [0, Math.max(1, labels.length - 1)]
      : extent(xs.filter((value): value is number => value !== undefined));
    const log = distribution?.kind !== "categorical" && distribution?.log === true;
    const x = linearScale(xDomain, [left, left + box.width], log);
    body.push(
      ...axes(
        box,
        { scale: x, domain: xDomain, title: `${name}${log ? " (log)" : ""}`, ...(labels ? { labels } : {}) },
        { scale: y, domain: yDomain, title: index % COLUMNS === 0 ? objectiveTitle(study, objective) : "" },
        10,
      ),
    );
    finite.forEach((point, at) => {
      const px = xs[at];
      if (px !== undefined) body.push(circle(x(px), y(point.value), 2.5, COLORS.point, 0.6));
    });
  });
  const more =
    names.length > shown.length ? `; ${names.length - shown.length} more parameters not shown` : "";
  const inf = infinite > 0 ? `; ${infinite} infinite values not shown` : "";
  return svgDocument(
    width,
    height,
    `${study.name}: parameters against ${objectiveTitle(study, objective)}`,
    `${stateLine(study)}${inf}${more}`,
    body,
  );
}
