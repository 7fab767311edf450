"""Builds a real Optuna study.db for benchmark P5 (bench/p5-fetch-results.ts).

Usage: make_optuna_study.py STUDY_DB TOTAL_TRIALS REAL_TRIALS

Optuna writes REAL_TRIALS trials itself (complete, pruned and failed ones, with intermediate values and
a user attribute). Optuna's own inserts cost ~12 ms per trial here, so the remaining trials are inserted
with sqlite3 in one transaction, each row copied from a real trial of the same state with the exact
column shapes Optuna wrote, new parameter values sampled from the stored distributions, and the
objective recomputed. Finally optuna.load_study checks the trial count and the best trial, and one JSON
line is printed: {"study_name", "trials", "best_value", "best_number"}.
"""

import json
import math
import random
import sqlite3
import sys

import optuna

STUDY_NAME = "bench-mirror-wfe"
MATERIALS = ["zerodur", "sic", "ule"]


def wfe_nm(params):
    """A smooth made-up wavefront error; only its shape matters (a clear minimum somewhere inside)."""
    t = params["thickness_mm"]
    a = params["rib_angle_deg"]
    r = params["support_radius_mm"]
    n = params["n_supports"]
    m = MATERIALS.index(params["material"]) if isinstance(params["material"], str) else params["material"]
    return (
        12.0
        + (t - 7.3) ** 2 * 0.8
        + math.sin(math.radians(a)) * 3.0
        + abs(math.log(r / 180.0)) * 5.0
        + abs(n - 9) * 0.4
        + m * 0.7
    )


def objective(trial):
    params = {
        "thickness_mm": trial.suggest_float("thickness_mm", 2.0, 20.0),
        "rib_angle_deg": trial.suggest_float("rib_angle_deg", 0.0, 90.0),
        "support_radius_mm": trial.suggest_float("support_radius_mm", 50.0, 400.0, log=True),
        "n_supports": trial.suggest_int("n_supports", 3, 18),
        "material": trial.suggest_categorical("material", MATERIALS),
    }
    value = wfe_nm(params)
    for step in range(3):
        trial.report(value * (1.0 + (3 - step) * 0.05), step)
    if trial.number % 17 == 5:
        raise optuna.TrialPruned()
    if trial.number % 29 == 7:
        raise RuntimeError("NX solve diverged (benchmark stand-in for a failed trial)")
    trial.set_user_attr("wfe_nm", value)
    return value


def sample(distribution, rng):
    name = distribution["name"]
    attrs = distribution["attributes"]
    if name.startswith("Categorical"):
        return float(rng.randrange(len(attrs["choices"])))
    low, high = attrs["low"], attrs["high"]
    if name.startswith("Int"):
        return float(rng.randint(int(low), int(high)))
    if attrs.get("log"):
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    return rng.uniform(low, high)


def decoded(name, value, distribution):
    if distribution["name"].startswith("Categorical"):
        return distribution["attributes"]["choices"][int(value)]
    return value


def main():
    path, total, real = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = f"sqlite:///{path}"
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        direction="minimize",
        sampler=optuna.samplers.RandomSampler(seed=7),
    )
    study.optimize(objective, n_trials=real, catch=(RuntimeError,))

    rng = random.Random(11)
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    cur = db.cursor()
    study_id = cur.execute("SELECT study_id FROM studies WHERE study_name = ?", (STUDY_NAME,)).fetchone()[0]
    templates = {}
    for row in cur.execute("SELECT * FROM trials WHERE study_id = ? ORDER BY number", (study_id,)).fetchall():
        templates.setdefault(row["state"], []).append(row)
    child_tables = [
        "trial_params",
        "trial_values",
        "trial_intermediate_values",
        "trial_user_attributes",
        "trial_system_attributes",
    ]
    columns = {
        table: [c[1] for c in cur.execute(f"PRAGMA table_info({table})").fetchall()][1:]
        for table in child_tables
    }
    children = {
        table: {
            row["trial_id"]: []
            for row in cur.execute(f"SELECT DISTINCT trial_id FROM {table}").fetchall()
        }
        for table in child_tables
    }
    for table in child_tables:
        for row in cur.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall():
            children[table][row["trial_id"]].append(row)

    states = [state for state in ("COMPLETE", "PRUNED", "FAIL") if state in templates]
    weights = [len(templates[state]) for state in states]
    trial_cols = ["number", "study_id", "state", "datetime_start", "datetime_complete"]
    cur.execute("BEGIN")
    for number in range(real, total):
        state = rng.choices(states, weights)[0]
        template = rng.choice(templates[state])
        cur.execute(
            f"INSERT INTO trials ({', '.join(trial_cols)}) VALUES (?, ?, ?, datetime(?, '+' || ? || ' seconds'), datetime(?, '+' || ? || ' seconds'))",
            (
                number,
                study_id,
                state,
                template["datetime_start"],
                number * 3,
                template["datetime_complete"],
                number * 3,
            ),
        )
        trial_id = cur.lastrowid
        params = {}
        for table in child_tables:
            for row in children[table].get(template["trial_id"], []):
                values = {col: row[col] for col in columns[table]}
                values["trial_id"] = trial_id
                if table == "trial_params":
                    distribution = json.loads(row["distribution_json"])
                    values["param_value"] = sample(distribution, rng)
                    params[row["param_name"]] = decoded(row["param_name"], values["param_value"], distribution)
                elif table == "trial_values" and values.get("value") is not None:
                    values["value"] = wfe_nm(params)
                elif table == "trial_intermediate_values" and values.get("intermediate_value") is not None:
                    values["intermediate_value"] = wfe_nm(params) * (1.0 + (3 - row["step"]) * 0.05)
                elif table == "trial_user_attributes" and row["key"] == "wfe_nm":
                    values["value_json"] = json.dumps(wfe_nm(params))
                names = list(values)
                cur.execute(
                    f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                    [values[n] for n in names],
                )
    db.commit()
    expected = cur.execute(
        "SELECT t.number, v.value FROM trials t JOIN trial_values v ON v.trial_id = t.trial_id "
        "WHERE t.study_id = ? AND t.state = 'COMPLETE' ORDER BY v.value, t.number LIMIT 1",
        (study_id,),
    ).fetchone()
    db.close()

    loaded = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    trials = loaded.get_trials(deepcopy=False)
    best = loaded.best_trial
    if len(trials) != total:
        raise SystemExit(f"optuna sees {len(trials)} trials, expected {total}")
    if best.value != expected[1]:
        raise SystemExit(f"optuna's best value {best.value} differs from SQL's {expected[1]}")
    if set(best.params) != {"thickness_mm", "rib_angle_deg", "support_radius_mm", "n_supports", "material"}:
        raise SystemExit(f"optuna reads the best trial's params as {best.params}")
    print(json.dumps({"study_name": STUDY_NAME, "trials": len(trials), "best_value": best.value, "best_number": best.number}))


if __name__ == "__main__":
    main()
