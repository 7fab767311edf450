"""Mirror WFE demo study for the Atomizer job queue (SYS_19).

Minimizes the RMS wavefront error (nm) of a lightweighted M1 mirror blank under
1 g axial gravity. The NX Nastran solve is replaced by a small, deterministic
analytic surrogate so the whole job runs in seconds on any machine with Python
3.11, Optuna and (optionally) matplotlib.

Everything is located relative to this file; the study folder can live anywhere.

Usage:
    python run_optimization.py [--trials N] [--seed S] [--trial-delay SECONDS] [--start]

Environment:
    ATOMIZER_RESULTS_DIR  output folder (default: 3_results next to this file)
    ATOMIZER_JOB_ID       job id, echoed at start for the runner log

Outputs (in the results folder):
    study.db        Optuna RDB storage (SQLite), study name from the spec
    trials.csv      one row per trial
    convergence.png value per trial and best-so-far line
    progress.json   rewritten atomically after every trial

Exit codes: 0 ok, 1 no trial completed, 2 bad spec or arguments,
3 missing dependency (optuna), 130 interrupted (Ctrl-C), 128+N on signal N
(e.g. 143 on SIGTERM). When interrupted, partial results are still written.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

try:
    import optuna
except ImportError as exc:
    sys.stderr.write(
        "ERROR: optuna is missing: install python3-optuna (Debian) or `pip install optuna` "
        f"for the interpreter running this job ({sys.executable}). Import error: {exc}\n"
    )
    sys.exit(3)

try:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
except ImportError as exc:  # the study still runs, only the PNG is skipped
    plt = None
    MATPLOTLIB_ERROR: str | None = str(exc)
else:
    MATPLOTLIB_ERROR = None

STUDY_DIR = Path(__file__).resolve().parent
SPEC_NAME = "atomizer_spec.json"
DEFAULT_RESULTS_NAME = "3_results"
PROGRESS_NAME = "progress.json"
PROGRESS_TMP_NAME = ".progress.json.tmp"
DEFAULT_TRIALS = 40
DEFAULT_SEED = 42
LOG_PREFIX = "[mirror-wfe]"

EXIT_OK = 0
EXIT_NO_RESULT = 1
EXIT_USAGE = 2
EXIT_MISSING_DEPENDENCY = 3
EXIT_INTERRUPTED = 130

# ---------------------------------------------------------------------------
# Surrogate model (stands in for the NX SOL101 solve + wfe_rms extractor)
# ---------------------------------------------------------------------------

# rib pattern -> (bending efficiency, rib mass factor, quilting factor)
RIB_PATTERNS: dict[str, tuple[float, float, float]] = {
    "triangular": (1.00, 1.18, 0.80),
    "hexagonal": (0.93, 1.00, 1.00),
    "square": (0.80, 0.92, 1.25),
}
CELL_PITCH_MM = 60.0
MAX_CORE_DEPTH_MM = 80.0
SURROGATE_VARIABLES = ("rib_thickness_mm", "back_plate_mm", "pocket_depth_ratio", "rib_pattern")


def wfe_rms_nm(
    rib_thickness_mm: float, back_plate_mm: float, pocket_depth_ratio: float, rib_pattern: str
) -> float:
    """Analytic stand-in for the NX solve: surface WFE in nm RMS (lower is better).

    Root-sum-square of four error terms with the usual trade-offs:
      gravity sag     ~ mass / bending stiffness: wants deep pockets and a thick core
      quilting        polishing print-through of the unsupported face sheet between ribs
      thermal         print-through of thick/deep ribs plus face-sheet gradients
      residual        polishing floor plus machining stress of deep pockets
    The minimum lies inside the bounds (about 11.5 nm for triangular ribs near
    rib 8.2 mm, back plate 8.6 mm, pocket depth ratio 0.65).
    """
    eta, mass_factor, quilt_factor = RIB_PATTERNS[rib_pattern]
    core_depth = MAX_CORE_DEPTH_MM * pocket_depth_ratio
    solidity = 2.0 * rib_thickness_mm / CELL_PITCH_MM * mass_factor
    areal_mass = back_plate_mm + solidity * core_depth  # mm of equivalent solid glass
    bending = back_plate_mm**3 + eta * solidity * core_depth**3
    gravity = 1.2e4 * areal_mass / bending
    span = CELL_PITCH_MM - rib_thickness_mm
    quilting = 5.0 * quilt_factor * (span / 50.0) ** 4 * (8.0 / back_plate_mm) ** 3
    thermal = (
        0.06 * rib_thickness_mm**2 * pocket_depth_ratio**2 + 0.03 * back_plate_mm**2 + 0.05 * areal_mass
    )
    residual = 4.0 + 16.0 * pocket_depth_ratio**4
    return math.sqrt(gravity**2 + quilting**2 + thermal**2 + residual**2)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


class SpecError(Exception):
    pass


def log_err(message: str) -> None:
    sys.stderr.write(f"{LOG_PREFIX} {message}\n")
    sys.stderr.flush()


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_utc_iso(value: datetime | None) -> str:
    if value is None:
        return ""
    # Optuna stores naive local timestamps; astimezone() interprets them as local time.
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Mirror WFE demo study (analytic surrogate standing in for an NX solve)."
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=None,
        help=f"trials to run (default: optimization.n_trials from the spec, else {DEFAULT_TRIALS})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"sampler seed (default: optimization.seed from the spec, else {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--trial-delay",
        type=float,
        default=0.0,
        help="seconds to sleep per trial, to mimic a solve (default 0)",
    )
    parser.add_argument(
        "--start",
        nargs="?",
        const=True,
        default=None,
        help="accepted and ignored (the SYS_19 job.json passes it)",
    )
    args = parser.parse_args(argv)
    if args.trials is not None and args.trials < 1:
        parser.error("--trials must be >= 1")
    if not math.isfinite(args.trial_delay) or args.trial_delay < 0:
        parser.error("--trial-delay must be >= 0")
    return args


def results_dir() -> Path:
    override = os.environ.get("ATOMIZER_RESULTS_DIR", "").strip()
    path = Path(override).expanduser() if override else STUDY_DIR / DEFAULT_RESULTS_NAME
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json_atomic(path: Path, tmp_name: str, data: dict[str, Any]) -> None:
    """Write to a temp file in the same folder, then os.replace() it over the target."""
    tmp = path.with_name(tmp_name)
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    attempts = 10
    for attempt in range(attempts):
        try:
            os.replace(tmp, path)
            return
        except PermissionError:
            # Windows refuses to replace a file another process (runner, Syncthing) has open.
            if attempt == attempts - 1:
                log_err(f"WARNING: could not update {path.name} (file locked); continuing")
                return
            time.sleep(0.05 * (attempt + 1))


def install_stop_handlers() -> dict[str, int]:
    """Turn SIGTERM (and SIGBREAK on Windows) into KeyboardInterrupt so partial results get written."""
    received: dict[str, int] = {}

    def handler(signum: int, _frame: object) -> None:
        received["signum"] = signum
        raise KeyboardInterrupt

    for name in ("SIGTERM", "SIGBREAK"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                signal.signal(sig, handler)
            except (OSError, ValueError):  # not the main thread, or unsupported here
                pass
    return received


def best_trial_or_none(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no completed trial yet
        return None


def fail_stale_trials(study: optuna.Study) -> int:
    """Record as FAIL the trials a resumed study.db still shows RUNNING.

    The runner gives each job its own copy of study.db, so a trial RUNNING at start was cut off when the
    earlier job was killed (a runner restart kills without grace): nothing will ever finish it, and left
    RUNNING it would count as in progress forever. (optuna.storages.fail_stale_trials needs heartbeats.)
    """
    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in stale:
        study._storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL)
    return len(stale)


def ordered_params(params: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Params in spec order (the RDB storage hands them back sorted by name)."""
    ordered = {name: params[name] for name in names if name in params}
    ordered.update({k: v for k, v in params.items() if k not in ordered})
    return ordered


def progress_snapshot(
    study: optuna.Study, planned: int, param_names: list[str], message: str
) -> dict[str, Any]:
    TrialState = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    best = best_trial_or_none(study)
    return {
        "trials_planned": planned,
        "trials_complete": sum(1 for t in trials if t.state == TrialState.COMPLETE),
        "trials_pruned": sum(1 for t in trials if t.state == TrialState.PRUNED),
        "trials_failed": sum(1 for t in trials if t.state == TrialState.FAIL),
        "best_value": float(best.value) if best is not None and best.value is not None else None,
        "best_params": ordered_params(best.params, param_names) if best is not None else None,
        "best_trial": best.number if best is not None else None,
        "message": message,
        "updated_at": utc_now(),
    }


def write_trials_csv(study: optuna.Study, param_names: list[str], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["number", "state", "value", *param_names, "datetime_complete"])
        for t in study.get_trials(deepcopy=False):
            writer.writerow(
                [
                    t.number,
                    t.state.name,
                    "" if t.value is None else repr(float(t.value)),
                    *[t.params.get(name, "") for name in param_names],
                    to_utc_iso(t.datetime_complete),
                ]
            )


def write_convergence_png(study: optuna.Study, direction: str, path: Path, title: str) -> bool:
    if plt is None:
        log_err(f"WARNING: matplotlib is missing ({MATPLOTLIB_ERROR}); skipping {path.name}")
        return False
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.value is not None
    ]
    if not done:
        log_err(f"WARNING: no completed trials; skipping {path.name}")
        return False
    pick = min if direction == "minimize" else max
    numbers = [t.number for t in done]
    values = [float(t.value) for t in done if t.value is not None]
    best_so_far: list[float] = []
    for value in values:
        best_so_far.append(value if not best_so_far else pick(best_so_far[-1], value))
    try:
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
        ax.scatter(numbers, values, s=18, color="tab:blue", alpha=0.7, label="trial value")
        ax.step(numbers, best_so_far, where="post", color="tab:red", linewidth=2, label="best so far")
        ax.set_xlabel("trial")
        ax.set_ylabel("WFE RMS [nm]")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, format="png")
        plt.close(fig)
    except Exception as exc:  # a broken plot must not fail the job
        log_err(f"WARNING: could not write {path.name}: {exc}")
        return False
    return True


def suggest(trial: optuna.Trial, var: dict[str, Any]) -> Any:
    name = var["name"]
    if var["type"] == "categorical":
        return trial.suggest_categorical(name, var["choices"])
    low, high = var["bounds"]
    if var["type"] == "integer":
        return trial.suggest_int(name, int(low), int(high))
    return trial.suggest_float(name, float(low), float(high))


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        spec = load_spec(STUDY_DIR)
    except SpecError as exc:
        log_err(f"ERROR: {exc}")
        return EXIT_USAGE

    meta = spec["meta"]
    study_name: str = meta["study_name"]
    variables: list[dict[str, Any]] = spec["design_variables"]
    param_names = [v["name"] for v in variables]
    objective_spec = spec["objectives"][0]
    direction: str = objective_spec["direction"]
    optimization = spec.get("optimization") or {}
    n_trials = args.trials if args.trials is not None else int(optimization.get("n_trials", DEFAULT_TRIALS))
    seed = args.seed if args.seed is not None else int(optimization.get("seed", DEFAULT_SEED))
    sampler_name = str(optimization.get("sampler", "TPE")).upper()

    out_dir = results_dir()
    db_path = out_dir / "study.db"
    progress_path = out_dir / PROGRESS_NAME
    job_id = os.environ.get("ATOMIZER_JOB_ID", "").strip()

    log_err(
        f"starting study={study_name} trials={n_trials} seed={seed} sampler={sampler_name} "
        f"python={sys.version.split()[0]} optuna={optuna.__version__}"
    )
    if job_id:
        print(f"job_id={job_id}", flush=True)
    print(f"study={study_name} objective={objective_spec.get('name')} direction={direction}", flush=True)
    print(f"results_dir={out_dir}", flush=True)
    print("model=analytic WFE surrogate (stands in for the NX solve)", flush=True)

    # Plain (uncoloured) optuna warnings on stderr; the per-trial lines below go to stdout.
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="[optuna] %(levelname)s %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=f"sqlite:///{db_path.as_posix()}",
        direction=direction,
        load_if_exists=True,
    )
    n_existing = len(study.trials)
    planned = n_existing + n_trials
    if n_existing:
        # Shift the seed on resume, otherwise the sampler would replay the same random start-up points.
        print(f"resuming: study.db holds {n_existing} trials (sampler seed {seed}+{n_existing})", flush=True)
        stale = fail_stale_trials(study)
        if stale:
            print(f"resuming: {stale} trials left running by the interrupted run recorded as FAIL", flush=True)
    sampler_seed = seed + n_existing
    if sampler_name == "TPE":
        study.sampler = optuna.samplers.TPESampler(seed=sampler_seed)
    else:
        study.sampler = optuna.samplers.RandomSampler(seed=sampler_seed)
    start_message = f"started: {n_trials} trials planned"
    if n_existing:
        start_message += f" (+{n_existing} earlier trials in study.db)"

    def publish(message: str) -> None:
        snapshot = progress_snapshot(study, planned, param_names, message)
        write_json_atomic(progress_path, PROGRESS_TMP_NAME, snapshot)

    publish(start_message)

    def objective(trial: optuna.Trial) -> float:
        params = {var["name"]: suggest(trial, var) for var in variables}
        if args.trial_delay > 0:
            time.sleep(args.trial_delay)
        return wfe_rms_nm(
            float(params["rib_thickness_mm"]),
            float(params["back_plate_mm"]),
            float(params["pocket_depth_ratio"]),
            str(params["rib_pattern"]),
        )

    ran = 0
    started = time.monotonic()

    def on_trial_done(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        nonlocal ran
        ran += 1
        best = best_trial_or_none(study)
        value = "none" if trial.value is None else f"{trial.value:.4f}"
        best_text = "none" if best is None or best.value is None else f"{best.value:.4f} (#{best.number})"
        print(
            f"trial {ran}/{n_trials} number={trial.number} state={trial.state.name} value={value} "
            f"best={best_text} params={json.dumps(ordered_params(trial.params, param_names))}",
            flush=True,
        )
        publish(f"running: {ran}/{n_trials} trials done")

    interrupted = False
    stop_signal = install_stop_handlers()
    try:
        study.optimize(objective, n_trials=n_trials, callbacks=[on_trial_done], gc_after_trial=False)
    except KeyboardInterrupt:
        interrupted = True
        log_err("interrupted: writing partial results")

    elapsed = time.monotonic() - started
    write_trials_csv(study, param_names, out_dir / "trials.csv")
    write_convergence_png(study, direction, out_dir / "convergence.png", f"{study_name}: WFE RMS (surrogate)")

    best = best_trial_or_none(study)
    if interrupted:
        message = f"interrupted after {ran}/{n_trials} trials"
    elif best is None:
        message = f"finished: {ran}/{n_trials} trials ran, none completed"
    else:
        message = (
            f"finished: {ran}/{n_trials} trials in {elapsed:.1f}s, "
            f"best {best.value:.4f} nm at trial {best.number}"
        )
    publish(message)
    print(message, flush=True)

    if best is None or best.value is None:
        print("BEST value=null params=null", flush=True)
        return interrupted_code(stop_signal) if interrupted else EXIT_NO_RESULT
    best_params = json.dumps(ordered_params(best.params, param_names))
    print(f"BEST value={float(best.value)!r} params={best_params}", flush=True)
    return interrupted_code(stop_signal) if interrupted else EXIT_OK


def interrupted_code(stop_signal: dict[str, int]) -> int:
    signum = stop_signal.get("signum")
    return 128 + signum if signum is not None else EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
