"""The Optuna side of the study: the stored study (created or resumed), its sampler and the objective."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from study_spec import StudySettings
from wfe_surrogate import wfe_rms_nm


def quiet_optuna_logging() -> None:
    """Plain (uncoloured) optuna warnings on stderr; the per-trial lines go to stdout."""
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="[optuna] %(levelname)s %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def open_study(db_path: Path, settings: StudySettings) -> tuple[optuna.Study, int]:
    """The study in study.db, created or resumed, with its seeded sampler; and how many trials it held.

    A resubmitted job (resume_from) carries the earlier job's study.db, so its trials are kept and the
    new ones are numbered on after them.
    """
    study = optuna.create_study(
        study_name=settings.study_name,
        storage=f"sqlite:///{db_path.as_posix()}",
        direction=settings.direction,
        load_if_exists=True,
    )
    n_existing = len(study.trials)
    seed = settings.seed
    if n_existing:
        # Shift the seed on resume, otherwise the sampler would replay the same random start-up points.
        print(f"resuming: study.db holds {n_existing} trials (sampler seed {seed}+{n_existing})", flush=True)
        stale = fail_stale_trials(study)
        if stale:
            print(f"resuming: {stale} trials left running by the interrupted run recorded as FAIL", flush=True)
    sampler_seed = seed + n_existing
    if settings.sampler_name == "TPE":
        study.sampler = optuna.samplers.TPESampler(seed=sampler_seed)
    else:
        study.sampler = optuna.samplers.RandomSampler(seed=sampler_seed)
    return study, n_existing


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


def best_trial_or_none(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no completed trial yet
        return None


def ordered_params(params: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Params in spec order (the RDB storage hands them back sorted by name)."""
    ordered = {name: params[name] for name in names if name in params}
    ordered.update({k: v for k, v in params.items() if k not in ordered})
    return ordered


def suggest(trial: optuna.Trial, var: dict[str, Any]) -> Any:
    name = var["name"]
    if var["type"] == "categorical":
        return trial.suggest_categorical(name, var["choices"])
    low, high = var["bounds"]
    if var["type"] == "integer":
        return trial.suggest_int(name, int(low), int(high))
    return trial.suggest_float(name, float(low), float(high))


def make_objective(
    variables: list[dict[str, Any]], trial_delay: float
) -> Callable[[optuna.Trial], float]:
    """One trial: suggest every spec variable, then evaluate the WFE surrogate in place of the NX solve."""

    def objective(trial: optuna.Trial) -> float:
        params = {var["name"]: suggest(trial, var) for var in variables}
        if trial_delay > 0:
            time.sleep(trial_delay)
        return wfe_rms_nm(
            float(params["rib_thickness_mm"]),
            float(params["back_plate_mm"]),
            float(params["pocket_depth_ratio"]),
            str(params["rib_pattern"]),
        )

    return objective
