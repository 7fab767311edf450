import { directionSigns, isFeasible, paretoFront, rankable } from "../pareto-front.ts";
import type { PlotStudy } from "./plot-study.ts";
import { objectiveTitle, stateLine } from "./plot-study.ts";
import { axes, COLORS, circle, extent, linearScale, polyline, svgDocument, text } from "./svg-kit.ts";

const WIDTH = 720;
const HEIGHT = 460;
const BOX = { left: 78, top: 60, width: 620, height: 340 };

/**
 * Two objectives against each other: the Pareto front (of the feasible trials, when the study records
 * constraints) in red and joined, dominated trials grey, infeasible ones as orange rings. Undefined
 * when no trial has two finite values.
 */
export function paretoSvg(study: PlotStudy): string | undefined {
  // The front and the counts are of every complete trial; the grey points are the sample's.
  const all = rankable(study.complete, 2);
  if (all.length === 0) return undefined;
  const feasible = all.filter(isFeasible);
  const front = paretoFront(feasible, directionSigns(study.directions));
  const onFront = new Set(front.map((trial) => trial.number));
  const trials = rankable(study.trials, 2);
  const xDomain = extent([...trials, ...front].map((trial) => trial.values[0] as number));
  const yDomain = extent([...trials, ...front].map((trial) => trial.values[1] as number));
  const x = linearScale(xDomain, [BOX.left, BOX.left + BOX.width]);
  const y = linearScale(yDomain, [BOX.top + BOX.height, BOX.top]);
  const at = (trial: (typeof trials)[number]): [number, number] => [
    x(trial.values[0] as number),
    y(trial.values[1] as number),
  ];
  const body = axes(
    BOX,
    { scale: x, domain: xDomain, title: objectiveTitle(study, 0) },
    { scale: y, domain: yDomain, title: objectiveTitle(study, 1) },
  );
  for (const trial of trials) {
    if (onFront.has(trial.number)) continue;
    const [px, py] = at(trial);
    body.push(
      isFeasible(trial)
        ? circle(px, py, 3, COLORS.muted, 0.6)
        : circle(px, py, 3.5, "none", 1, COLORS.infeasible),
    );
  }
  const line = [...front].sort((a, b) => (a.values[0] as number) - (b.values[0] as number)).map(at);
  body.push(polyline(line, COLORS.front, 1.2));
  for (const trial of front) body.push(circle(...at(trial), 4, COLORS.front, 0.9));
  const legendX = BOX.left + BOX.width - 250;
  body.push(
    circle(legendX, 54, 4, COLORS.front, 0.9),
    text(legendX + 8, 58, "Pareto front", { size: 11 }),
    circle(legendX + 95, 54, 3, COLORS.muted, 0.6),
    text(legendX + 103, 58, "dominated", { size: 11 }),
    circle(legendX + 180, 54, 3.5, "none", 1, COLORS.infeasible),
    text(legendX + 188, 58, "infeasible", { size: 11 }),
  );
  const infeasible = all.length - feasible.length;
  return svgDocument(
    WIDTH,
    HEIGHT,
    `${study.name}: Pareto front`,
    `${stateLine(study)}; ${front.length} on the front${infeasible > 0 ? `, ${infeasible} infeasible` : ""}`,
    body,
  );
}
