import { directionSigns, isFeasible, paretoFront, rankable } from "../pareto-front.ts";
import type { PlotStudy } from "./plot-study.ts";
import { stateLine } from "./plot-study.ts";
import { COLORS, extent, formatNumber, linearScale, polyline, svgDocument, text } from "./svg-kit.ts";

const WIDTH = 720;
const HEIGHT = 440;
const TOP = 80;
const BOTTOM = 380;
const LEFT = 70;
const RIGHT = 650;

/**
 * Three to five objectives as parallel coordinates: one vertical axis per objective (its own range,
 * the better end on top), one line per trial; the Pareto front red over grey dominated trials.
 */
export function parallelSvg(study: PlotStudy): string | undefined {
  const objectives = study.directions.length;
  // The front is of every complete trial; the grey lines are the sample's.
  const all = rankable(study.complete, objectives);
  if (all.length === 0) return undefined;
  const front = paretoFront(all.filter(isFeasible), directionSigns(study.directions));
  const onFront = new Set(front.map((trial) => trial.number));
  const trials = [...rankable(study.trials, objectives), ...front];
  const step = (RIGHT - LEFT) / (objectives - 1);
  const scales = study.directions.map((direction, objective) => {
    const domain = extent(trials.map((trial) => trial.values[objective] as number));
    // The better end on top: high values up when maximized, low values up when minimized.
    const range: [number, number] = direction === "maximize" ? [BOTTOM, TOP] : [TOP, BOTTOM];
    return { domain, scale: linearScale(domain, range), direction };
  });
  const line = (trial: (typeof trials)[number]): [number, number][] =>
    scales.map((axis, objective) => [LEFT + objective * step, axis.scale(trial.values[objective] as number)]);
  const body: string[] = [];
  for (const trial of trials)
    if (!onFront.has(trial.number)) body.push(polyline(line(trial), "#c4c4c4", 1, true));
  for (const trial of front) body.push(polyline(line(trial), COLORS.front, 1, true));
  scales.forEach((axis, objective) => {
    const px = LEFT + objective * step;
    body.push(
      `<line x1="${px}" x2="${px}" y1="${TOP}" y2="${BOTTOM}" stroke="${COLORS.ink}" stroke-width="1.2"/>`,
      text(px, TOP - 18, `objective ${objective}`, { size: 12, anchor: "middle" }),
      text(px, TOP - 5, `(${axis.direction})`, { size: 10, anchor: "middle", color: "#555555" }),
    );
    const [low, high] = axis.domain;
    for (const value of [low, high]) {
      body.push(text(px + 4, axis.scale(value) + 4, formatNumber(value), { size: 10 }));
    }
  });
  body.push(
    text(
      LEFT,
      BOTTOM + 36,
      `red: Pareto front (${front.length} trials); grey: dominated; better end on top`,
      {
        size: 11,
      },
    ),
  );
  return svgDocument(
    WIDTH,
    HEIGHT,
    `${study.name}: objectives (parallel coordinates)`,
    stateLine(study),
    body,
  );
}
