"""atomizer_spec.json (AtomizerSpec v2): checked before any trial runs, then read into the study's settings.

A bad spec stops the job with exit code 2 and one line naming the field, instead of a traceback
halfway through the study.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfe_surrogate import RIB_PATTERNS, SURROGATE_VARIABLES

SPEC_NAME = "atomizer_spec.json"
DEFAULT_TRIALS = 40
DEFAULT_SEED = 42


class SpecError(Exception):
    pass


@dataclass(frozen=True)
class StudySettings:
    """What the study runs: the spec's values, with --trials and --seed taking precedence."""

    study_name: str
    variables: list[dict[str, Any]]
    objective_name: str | None
    direction: str
    n_trials: int
    seed: int
    sampler_name: str

    @property
    def param_names(self) -> list[str]:
        return [v["name"] for v in self.variables]


def load_spec(study_dir: Path) -> dict[str, Any]:
    spec_path = study_dir / SPEC_NAME
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SpecError(f"{SPEC_NAME} not found next to run_optimization.py") from exc
    except json.JSONDecodeError as exc:
        raise SpecError(f"{SPEC_NAME} is not valid JSON: {exc}") from exc
    if not isinstance(spec, dict):
        raise SpecError(f"{SPEC_NAME} must contain a JSON object")

    meta = spec.get("meta") or {}
    if not str(meta.get("version", "")).startswith("2."):
        version = meta.get("version")
        raise SpecError(f"{SPEC_NAME}: meta.version must be 2.x (AtomizerSpec v2), got {version!r}")
    if not isinstance(meta.get("study_name"), str) or not meta["study_name"].strip():
        raise SpecError(f"{SPEC_NAME}: meta.study_name is required")

    variables = spec.get("design_variables")
    if not isinstance(variables, list) or not variables:
        raise SpecError(f"{SPEC_NAME}: design_variables must be a non-empty list")
    seen: set[str] = set()
    for var in variables:
        name = var.get("name") if isinstance(var, dict) else None
        if not isinstance(name, str) or not name:
            raise SpecError(f"{SPEC_NAME}: every design variable needs a name")
        if name in seen:
            raise SpecError(f"{SPEC_NAME}: duplicate design variable {name!r}")
        seen.add(name)
        kind = var.get("type")
        if kind in ("continuous", "integer"):
            bounds = var.get("bounds")
            if (
                not isinstance(bounds, list)
                or len(bounds) != 2
                or not all(isinstance(b, (int, float)) for b in bounds)
                or not bounds[0] < bounds[1]
            ):
                raise SpecError(f"{SPEC_NAME}: {name}: bounds must be [low, high] with low < high")
        elif kind == "categorical":
            choices = var.get("choices")
            if not isinstance(choices, list) or not choices:
                raise SpecError(f"{SPEC_NAME}: {name}: choices must be a non-empty list")
        else:
            raise SpecError(f"{SPEC_NAME}: {name}: type must be continuous, integer or categorical")
    missing = [name for name in SURROGATE_VARIABLES if name not in seen]
    if missing:
        raise SpecError(f"{SPEC_NAME}: the WFE surrogate needs design variables {missing}")
    pattern_var = next(v for v in variables if v["name"] == "rib_pattern")
    unknown = [c for c in pattern_var.get("choices", []) if c not in RIB_PATTERNS]
    if pattern_var.get("type") != "categorical" or unknown:
        allowed = sorted(RIB_PATTERNS)
        raise SpecError(f"{SPEC_NAME}: rib_pattern must be categorical with choices from {allowed}")

    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or len(objectives) != 1:
        raise SpecError(f"{SPEC_NAME}: exactly one objective is supported")
    if objectives[0].get("direction") not in ("minimize", "maximize"):
        raise SpecError(f"{SPEC_NAME}: objectives[0].direction must be minimize or maximize")

    sampler = str((spec.get("optimization") or {}).get("sampler", "TPE")).upper()
    if sampler not in ("TPE", "RANDOM"):
        raise SpecError(f"{SPEC_NAME}: optimization.sampler must be TPE or RANDOM, got {sampler!r}")
    return spec


def study_settings(spec: dict[str, Any], trials: int | None, seed: int | None) -> StudySettings:
    """Settings from a spec load_spec() accepted; `trials` and `seed` (from the command line) win when set."""
    objective = spec["objectives"][0]
    optimization = spec.get("optimization") or {}
    return StudySettings(
        study_name=spec["meta"]["study_name"],
        variables=spec["design_variables"],
        objective_name=objective.get("name"),
        direction=objective["direction"],
        n_trials=trials if trials is not None else int(optimization.get("n_trials", DEFAULT_TRIALS)),
        seed=seed if seed is not None else int(optimization.get("seed", DEFAULT_SEED)),
        sampler_name=str(optimization.get("sampler", "TPE")).upper(),
    )
