// examples/mirror-wfe-study as shipped: no absolute paths in its script or spec, and an AtomizerSpec v2
// whose model files are there under 1_setup.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { exampleDir, exists, STUDY_NAME } from "./helpers/mirror-wfe-example.ts";

/** String literals on each line of a Python source file. */
function pythonStringLiterals(source: string): { line: number; value: string }[] {
  const found: { line: number; value: string }[] = [];
  source.split(/\r?\n/).forEach((text, index) => {
    for (const match of text.matchAll(/(["'])((?:\\.|(?!\1)[^\\])*)\1/g)) {
      found.push({ line: index + 1, value: match[2] ?? "" });
    }
  });
  return found;
}

function jsonStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") {
    out.push(value);
  } else if (Array.isArray(value)) {
    for (const item of value) {
      jsonStrings(item, out);
    }
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      out.push(key);
      jsonStrings(item, out);
    }
  }
  return out;
}

const ABSOLUTE_LITERAL = /^\/|[A-Za-z]:\\|\\\\/;
const ABSOLUTE_ANYWHERE = /(^|[\s"'`(=])(\/(home|Users|tmp|root|usr|etc|var|opt|mnt|srv)\/|[A-Za-z]:[\\/])/;
describe("examples/mirror-wfe-study", () => {
  it("has no absolute paths in run_optimization.py or atomizer_spec.json", async () => {
    const offenders: string[] = [];
    const script = await readFile(path.join(exampleDir, "run_optimization.py"), "utf8");
    for (const { line, value } of pythonStringLiterals(script)) {
      if (ABSOLUTE_LITERAL.test(value)) {
        offenders.push(`run_optimization.py:${line}: ${value}`);
      }
    }
    const specText = await readFile(path.join(exampleDir, "atomizer_spec.json"), "utf8");
    for (const value of jsonStrings(JSON.parse(specText))) {
      if (ABSOLUTE_LITERAL.test(value)) {
        offenders.push(`atomizer_spec.json: ${value}`);
      }
    }
    for (const [file, text] of [
      ["run_optimization.py", script],
      ["atomizer_spec.json", specText],
    ] as const) {
      text.split(/\r?\n/).forEach((lineText, index) => {
        if (ABSOLUTE_ANYWHERE.test(lineText)) {
          offenders.push(`${file}:${index + 1}: ${lineText.trim()}`);
        }
      });
    }
    expect(offenders).toEqual([]);
  });

  it("ships an AtomizerSpec v2 whose model files exist under 1_setup", async () => {
    const spec = JSON.parse(await readFile(path.join(exampleDir, "atomizer_spec.json"), "utf8"));
    expect(spec.meta.version).toBe("2.0");
    expect(spec.meta.study_name).toBe(STUDY_NAME);
    expect(spec.meta.author).toBe("study-builder");
    expect(spec.objectives).toEqual([
      expect.objectContaining({ name: "wfe_rms_nm", direction: "minimize", extractor: "wfe_rms" }),
    ]);
    expect(spec.optimization).toEqual(expect.objectContaining({ sampler: "TPE", n_trials: 40, seed: 42 }));
    const names = (spec.design_variables as { name: string }[]).map((v) => v.name);
    expect(names).toEqual(["rib_thickness_mm", "back_plate_mm", "pocket_depth_ratio", "rib_pattern"]);
    for (const key of ["part", "idealized_part", "fem", "sim"]) {
      const rel = spec.model[key] as string;
      expect(rel.startsWith("1_setup/")).toBe(true);
      expect(await exists(path.join(exampleDir, rel))).toBe(true);
    }
    const setupFiles = (await readdir(path.join(exampleDir, "1_setup"))).sort();
    expect(setupFiles).toEqual([
      "m1_mirror.prt",
      "m1_mirror_fem1.fem",
      "m1_mirror_fem1_i.prt",
      "m1_mirror_sim1.sim",
    ]);
    const gitignore = await readFile(path.join(exampleDir, ".gitignore"), "utf8");
    expect(gitignore.split(/\r?\n/)).toEqual(expect.arrayContaining(["3_results/", "__pycache__/"]));
  });
});
