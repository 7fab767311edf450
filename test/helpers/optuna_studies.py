# Real Optuna studies for the plot, Pareto and report tests: one study.db per case, in the folder given.
import math
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
out = sys.argv[1]


def storage(name):
    return "sqlite:///" + out + "/" + name + ".db"


def single(direction, name):
    study = optuna.create_study(study_name=name, storage=storage(name), direction=direction,
                                sampler=optuna.samplers.RandomSampler(seed=7))

    def objective(trial):
        x = trial.suggest_float("x", -3, 3)
        n = trial.suggest_int("n", 1, 8)
        shape = trial.suggest_categorical("shape", ["tri", "hex", "square"])
        if trial.number == 3:
            raise optuna.TrialPruned()
        if trial.number == 5:
            raise ValueError("solver diverged")
        if trial.number == 7:
            return math.inf if direction == "minimize" else -math.inf
        value = (x - 1) ** 2 + n * 0.3 + {"tri": 0.0, "hex": 1.5, "square": 0.7}[shape]
        return value if direction == "minimize" else -value

    study.optimize(objective, n_trials=40, catch=(ValueError,))


def constraints(trial):
    return trial.user_attrs["c"]


def multi(name, count):
    directions = ["minimize", "maximize", "minimize", "minimize", "maximize"][:count]
    sampler = optuna.samplers.NSGAIISampler(seed=11, constraints_func=constraints)
    study = optuna.create_study(study_name=name, storage=storage(name), directions=directions, sampler=sampler)

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        y = trial.suggest_float("y", 0, 1)
        mat = trial.suggest_categorical("material", ["steel", "invar"])
        trial.set_user_attr("c", [x + y - 1.5])
        if trial.number == 2:
            raise ValueError("mesh failed")
        values = [x, (1 - x) ** 2 + y, y * 2 + (0.2 if mat == "steel" else 0), (x - y) ** 2, x * y]
        return tuple(values[:count])

    study.optimize(objective, n_trials=60, catch=(ValueError,))


def empty(name):
    study = optuna.create_study(study_name=name, storage=storage(name), direction="minimize")

    def objective(trial):
        trial.suggest_float("x", 0, 1)
        if trial.number == 0:
            raise ValueError("licence lost")
        raise optuna.TrialPruned()

    study.optimize(objective, n_trials=3, catch=(ValueError,))


def running(name):
    study = optuna.create_study(study_name=name, storage=storage(name), direction="minimize",
                                sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(lambda t: (t.suggest_float("x", -1, 1)) ** 2, n_trials=12)
    trial = study.ask()
    trial.suggest_float("x", -1, 1)  # left RUNNING: the job was stopped mid-trial


single("minimize", "minimize")
single("maximize", "maximize")
multi("two", 2)
multi("three", 3)
multi("five", 5)
empty("empty")
running("running")
