import type { PlotStudy } from "./plot-study.ts";
import { objectiveTitle, objectiveValues, stateLine } from "./plot-study.ts";
import {
  axes,
  COLORS,
  circle,
  extent,
  formatNumber,
  linearScale,
  polyline,
  svgDocument,
  text,
} from "./svg-kit.ts";

const WIDTH = 720;
const HEIGHT = 420;
const BOX = { left: 78, top: 60, width: 620, height: 300 };

/**
 * Optimization history of a single-objective study: each complete trial's value by trial number, and
 * the best value so far as a step line. Infinite values cannot be placed on the axis: they are counted
 * in the subtitle. Undefined when no trial completed with a finite value.
 */
export function historySvg(study: PlotStudy): string | undefined {
  const { finite, infinite } = objectiveValues(study, 0);
  if (finite.length === 0) return undefined;
  // The line is of every complete trial, not of the sample the points are.
  const corners = study.best;
  const numbers = [...study.trials.map((trial) => trial.number), ...corners.map((corner) => corner.number)];
  const xDomain = extent(numbers);
  const yDomain = extent([...finite.map((point) => point.value), ...corners.map((corner) => corner.value)]);
  const x = linearScale(xDomain, [BOX.left, BOX.left + BOX.width]);
  const y = linearScale(yDomain, [BOX.top + BOX.height, BOX.top]);
  const body = axes(
    BOX,
    { scale: x, domain: xDomain, title: "trial number" },
    { scale: y, domain: yDomain, title: objectiveTitle(study, 0) },
  );
  for (const point of finite) body.push(circle(x(point.trial.number), y(point.value), 3, COLORS.point, 0.7));
  const steps: [number, number][] = [];
  let best: number | undefined;
  for (const corner of corners) {
    if (best !== undefined) steps.push([x(corner.number), y(best)]);
    best = corner.value;
    steps.push([x(corner.number), y(best)]);
  }
  if (best !== undefined) steps.push([x(xDomain[1]), y(best)]);
  body.push(polyline(steps, COLORS.best, 2));
  body.push(
    circle(BOX.left + BOX.width - 170, 54, 3, COLORS.point, 0.7),
    text(BOX.left + BOX.width - 162, 58, "complete trial", { size: 11 }),
    polyline(
      [
        [BOX.left + BOX.width - 76, 54],
        [BOX.left + BOX.width - 60, 54],
      ],
      COLORS.best,
      2,
    ),
    text(BOX.left + BOX.width - 56, 58, "best so far", { size: 11 }),
  );
  const note = infinite > 0 ? `; ${infinite} infinite values not shown` : "";
  return svgDocument(
    WIDTH,
    HEIGHT,
    `${study.name}: optimization history`,
    `${stateLine(study)}${note}; best ${best === undefined ? "none" : formatNumber(best)}`,
    body,
  );
}
