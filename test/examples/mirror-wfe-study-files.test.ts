// examples/mirror-wfe-study as shipped: the entry script with the modules it imports, no absolute paths
// in them or the spec, and an AtomizerSpec v2 whose model files are there under 1_setup.
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

/** The entry script the job runs, then the study modules it imports from its own folder. */
const PYTHON_FILES = [
  "run_optimization.py",
  "optuna_study.py",
  "result_files.py",
  "study_log.py",
  "study_spec.py",
  "wfe_surrogate.py",
];

/** Top-level modules a Python source imports (`import x`, `from x import y`), relative imports left out. */
function importedModules(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(
    /^(?:from\s+([A-Za-z_]\w*)[\w.]*\s+import|import\s+([A-Za-z_]\w*))/gm,
  )) {
    found.push(match[1] ?? match[2] ?? "");
  }
  return found;
}

const ABSOLUTE_LITERAL = /^\/|[A-Za-z]:\\|\\\\/;
const ABSOLUTE_ANYWHERE = /(^|[\s"'`(=])(\/(home|Users|tmp|root|usr|etc|var|opt|mnt|srv)\/|[A-Za-z]:[\\/])/;
describe("examples/mirror-wfe-study", () => {
  it("ships run_optimization.py with every study module it imports, each listed in the README", async () => {
    const shipped = (await readdir(exampleDir)).filter((name) => name.endsWith(".py")).sort();
    expect(shipped).toEqual([...PYTHON_FILES].sort());
    const studyModules = new Set(PYTHON_FILES.map((file) => file.replace(/\.py$/, "")));
    const imported = new Set<string>();
    for (const file of PYTHON_FILES) {
      const source = await readFile(path.join(exampleDir, file), "utf8");
      for (const name of importedModules(source)) if (studyModules.has(name)) imported.add(name);
    }
    // Every module is reached from the entry script (directly or through another module).
    expect([...imported].sort()).toEqual(
      [...studyModules].filter((name) => name !== "run_optimization").sort(),
    );
    const readme = await readFile(path.join(exampleDir, "README.md"), "utf8");
    for (const file of PYTHON_FILES) expect(readme, `README lists ${file}`).toContain(`| \`${file}\``);
  });

  it("has no absolute paths in its Python files or atomizer_spec.json", async () => {
    const offenders: string[] = [];
    const sources: [string, string][] = [];
    for (const file of PYTHON_FILES) {
      const source = await readFile(path.join(exampleDir, file), "utf8");
      sources.push([file, source]);
      for (const { line, value } of pythonStringLiterals(source)) {
        if (ABSOLUTE_LITERAL.test(value)) {
          offenders.push(`${file}:${line}: ${value}`);
        }
      }
    }
    const specText = await readFile(path.join(exampleDir, "atomizer_spec.json"), "utf8");
    for (const value of jsonStrings(JSON.parse(specText))) {
      if (ABSOLUTE_LITERAL.test(value)) {
        offenders.push(`atomizer_spec.json: ${value}`);
      }
    }
    for (const [file, text] of [...sources, ["atomizer_spec.json", specText]] as const) {
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
