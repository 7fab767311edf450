"""Mirror WFE demo study for the Atomizer job queue (SYS_19).

Minimizes the RMS wavefront error (nm) of a lightweighted M1 mirror blank under
1 g axial gravity. The NX Nastran solve is replaced by a small, deterministic
analytic surrogate so the whole job runs in seconds on any machine with Python
3.11, Optuna and (optionally) matplotlib.

Everything is located relative to this file; the study folder can live anywhere.
This is the entry script; the study's modules sit next to it:
    wfe_surrogate.py  the analytic WFE model standing in for the NX solve
    study_spec.py     atomizer_spec.json checks and the settings read from it
    optuna_study.py   the stored Optuna study (created or resumed), sampler, objective
    result_files.py   progress.json, trials.csv and convergence.png
    study_log.py      the prefixed stderr lines

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
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

STUDY_DIR = Path(__file__).resolve().parent
# Python puts this folder on sys.path for `python run_optimization.py`, but not under `python -P` or
# PYTHONSAFEPATH, which a workstation may set for every job: the study's modules must still import.
if str(STUDY_DIR) not in sys.path:
    sys.path.insert(0, str(STUDY_DIR))
# No __pycache__ beside the modules: the job's work copy keeps exactly the files it was submitted with.
sys.dont_write_bytecode = True

try:
    import optuna
except ImportError as exc:
    sys.stderr.write(
        "ERROR: optuna is missing: install python3-optuna (Debian) or `pip install optuna` "
        f"for the interpreter running this job ({sys.executable}). Import error: {exc}\n"
    )
    sys.exit(3)

# After the optuna check, so a missing optuna exits 3 with the hint above, not an ImportError traceback.
from optuna_study import (  # noqa: E402
    best_trial_or_none,
    make_objective,
    open_study,
    ordered_params,
    quiet_optuna_logging,
)
from result_files import write_convergence_png, write_progress, write_trials_csv  # noqa: E402
from study_log import log_err  # noqa: E402
from study_spec import DEFAULT_SEED, DEFAULT_TRIALS, SpecError, load_spec, study_settings  # noqa: E402

DEFAULT_RESULTS_NAME = "3_results"

EXIT_OK = 0
EXIT_NO_RESULT = 1
EXIT_USAGE = 2
EXIT_MISSING_DEPENDENCY = 3
EXIT_INTERRUPTED = 130


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


def results_dir(study_dir: Path) -> Path:
    override = os.environ.get("ATOMIZER_RESULTS_DIR", "").strip()
    path = Path(override).expanduser() if override else study_dir / DEFAULT_RESULTS_NAME
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


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


def interrupted_code(stop_signal: dict[str, int]) -> int:
    signum = stop_signal.get("signum")
    return 128 + signum if signum is not None else EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        spec = load_spec(STUDY_DIR)
    except SpecError as exc:
        log_err(f"ERROR: {exc}")
        return EXIT_USAGE
    settings = study_settings(spec, args.trials, args.seed)
    study_name = settings.study_name
    direction = settings.direction
    n_trials = settings.n_trials
    param_names = settings.param_names

    out_dir = results_dir(STUDY_DIR)
    job_id = os.environ.get("ATOMIZER_JOB_ID", "").strip()

    log_err(
        f"starting study={study_name} trials={n_trials} seed={settings.seed} sampler={settings.sampler_name} "
        f"python={sys.version.split()[0]} optuna={optuna.__version__}"
    )
    if job_id:
        print(f"job_id={job_id}", flush=True)
    print(f"study={study_name} objective={settings.objective_name} direction={direction}", flush=True)
    print(f"results_dir={out_dir}", flush=True)
    print("model=analytic WFE surrogate (stands in for the NX solve)", flush=True)

    quiet_optuna_logging()
    study, n_existing = open_study(out_dir / "study.db", settings)
    planned = n_existing + n_trials
    start_message = f"started: {n_trials} trials planned"
    if n_existing:
        start_message += f" (+{n_existing} earlier trials in study.db)"

    def publish(message: str) -> None:
        write_progress(out_dir, study, planned, param_names, message)

    publish(start_message)
    objective = make_objective(settings.variables, args.trial_delay)

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


if __name__ == "__main__":
    sys.exit(main())
