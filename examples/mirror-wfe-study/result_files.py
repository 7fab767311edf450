"""What the study writes into the results folder: progress.json, trials.csv and convergence.png.

progress.json is what the runner reads while the job runs; trials.csv and convergence.png are written
once at the end, also after an interruption, from whatever trials finished.
"""

from __future__ import annotations

import csv
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna

from optuna_study import best_trial_or_none, ordered_params
from study_log import log_err

try:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
except ImportError as exc:  # the study still runs, only the PNG is skipped
    plt = None
    MATPLOTLIB_ERROR: str | None = str(exc)
else:
    MATPLOTLIB_ERROR = None

PROGRESS_NAME = "progress.json"
PROGRESS_TMP_NAME = ".progress.json.tmp"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_utc_iso(value: datetime | None) -> str:
    if value is None:
        return ""
    # Optuna stores naive local timestamps; astimezone() interprets them as local time.
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def write_progress(
    out_dir: Path, study: optuna.Study, planned: int, param_names: list[str], message: str
) -> None:
    snapshot = progress_snapshot(study, planned, param_names, message)
    write_json_atomic(out_dir / PROGRESS_NAME, PROGRESS_TMP_NAME, snapshot)


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
