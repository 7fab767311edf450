import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { isProcessAlive } from "../../../protocol/index.ts";
import { readText, waitFor } from "../helpers/make-job.ts";
import { processTest } from "../helpers/runner-process.ts";

/** A supervisor's two renames: the claim of its request and the commit to launching the script. */
export type Step = "claim" | "launch";
export type HoldPoint = `${"before" | "after"}-${Step}`;

/**
 * Supervisors held at chosen points, to stage races between attempts deterministically. A preload
 * (NODE_OPTIONS, inherited by every supervisor the runner starts) numbers the supervisors in the order
 * they start (1, 2, ...) and wraps fs.promises.rename: a rename whose target is a claimed or launched
 * request waits, when the plan says so for that supervisor, until the test releases it (`before-*`),
 * reports how it went, and waits again if it succeeded (`after-*`).
 */
export interface HeldSupervisors {
  /** For NODE_OPTIONS. */
  options: string;
  /** Waits until supervisor `n` is held at `point`; its pid. */
  held(n: number, point: HoldPoint): Promise<number>;
  release(n: number, point: HoldPoint): Promise<void>;
  /** How supervisor `n`'s rename for `step` went: "ok", an errno code, or "" while it has not happened. */
  done(n: number, step: Step): Promise<string>;
  /** The pids of every supervisor started so far, in order. */
  started(): Promise<number[]>;
  /** Releases every hold and waits for every supervisor to end (killing those still held after 10 s). */
  finish(): Promise<void>;
}

export async function holdSupervisors(
  scratch: string,
  plan: Record<number, HoldPoint[]>,
): Promise<HeldSupervisors> {
  const control = path.join(scratch, "holds");
  await mkdir(control, { recursive: true });
  await writeFile(path.join(control, "plan.json"), JSON.stringify(plan));
  const preload = path.join(control, "hold.cjs");
  await writeFile(
    preload,
    `const fs = require("node:fs");
const path = require("node:path");
if ((process.argv[1] ?? "").includes("supervisor-main")) {
  const control = ${JSON.stringify(control)};
  const plan = JSON.parse(fs.readFileSync(path.join(control, "plan.json"), "utf8"));
  let n = 1;
  for (;; n++) {
    try {
      fs.writeFileSync(path.join(control, "supervisor-" + n), String(process.pid), { flag: "wx" });
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
    }
  }
  const points = new Set(plan[n] ?? []);
  const hold = async (point) => {
    if (!points.has(point)) return;
    fs.writeFileSync(path.join(control, "held-" + n + "-" + point), String(process.pid));
    while (!fs.existsSync(path.join(control, "release-" + n + "-" + point)))
      await new Promise((resolve) => setTimeout(resolve, 20));
  };
  const promises = require("node:fs/promises");
  const rename = promises.rename;
  promises.rename = async (from, to) => {
    const target = path.basename(String(to));
    const step = target.startsWith("claimed.") ? "claim" : target.startsWith("launched.") ? "launch" : undefined;
    if (step === undefined) return rename(from, to);
    await hold("before-" + step);
    try {
      await rename(from, to);
    } catch (error) {
      fs.writeFileSync(path.join(control, "done-" + n + "-" + step), String(error.code));
      throw error;
    }
    fs.writeFileSync(path.join(control, "done-" + n + "-" + step), "ok");
    await hold("after-" + step);
  };
  require("node:module").syncBuiltinESMExports();
}
`,
  );
  const file = (name: string) => path.join(control, name);
  const started = async () => {
    const names = (await readdir(control)).filter((name) => /^supervisor-\d+$/.test(name));
    names.sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));
    return Promise.all(names.map(async (name) => Number(await readText(file(name)))));
  };
  return {
    options: `--require ${preload}`,
    held: async (n, point) =>
      Number(
        await waitFor(
          `supervisor ${n} held ${point}`,
          async () => (await readText(file(`held-${n}-${point}`))) || undefined,
        ),
      ),
    release: (n, point) => writeFile(file(`release-${n}-${point}`), ""),
    done: (n, step) => readText(file(`done-${n}-${step}`)),
    started,
    async finish() {
      for (const n of Object.keys(plan))
        for (const point of plan[Number(n)] ?? []) await writeFile(file(`release-${n}-${point}`), "");
      for (const pid of await started()) {
        const gone = await waitFor(
          `supervisor pid ${pid} to end`,
          async () => !(await isProcessAlive(pid)),
          10_000,
        ).catch(() => false);
        if (!gone) process.kill(pid, "SIGKILL");
      }
    },
  };
}

/**
 * processTest with `holdSupervisors(plan)`: held supervisors for the runners the test starts next
 * (through NODE_OPTIONS); when the test ends NODE_OPTIONS is restored, every hold released and every
 * supervisor ended, before the queue is removed.
 */
export const heldTest = processTest.extend("holdSupervisors", ({ queue }, { onCleanup }) => {
  const saved = process.env.NODE_OPTIONS;
  const made: HeldSupervisors[] = [];
  onCleanup(async () => {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
    for (const holds of made.splice(0)) await holds.finish();
  });
  return async (plan: Record<number, HoldPoint[]>): Promise<HeldSupervisors> => {
    const holds = await holdSupervisors(queue.scratch, plan);
    made.push(holds);
    process.env.NODE_OPTIONS = holds.options;
    return holds;
  };
});
