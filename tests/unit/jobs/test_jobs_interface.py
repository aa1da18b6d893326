"""The names `retrain check-config` reads from the job sources are those the jobs really use."""

from __future__ import annotations

import numpy as np
import train
from scoring import BinaryClassificationMetrics

from cli.config_file import job_interface


def test_the_metric_names_are_what_the_evaluation_scores_a_model_by() -> None:
    computed = BinaryClassificationMetrics().compute(np.array([0, 1, 0, 1]), np.array([0.1, 0.8, 0.4, 0.6]))
    metrics = job_interface().metrics
    assert set(metrics) <= set(computed)
    assert set(computed) - set(metrics) == {"threshold", "rows", "positives", "positive_rate"}
    assert all(isinstance(computed[name], float) for name in metrics)


def test_the_hyperparameter_names_are_what_train_py_parses() -> None:
    names = job_interface().hyperparameters
    assert names == tuple(train.Hyperparameters.__dataclass_fields__)
    arguments = [item for name in names for item in (f"--{name}", "auto" if name == "early_stopping" else "1")]
    arguments[arguments.index("--class_weight") + 1] = "none"
    arguments[arguments.index("--learning_rate") + 1] = "0.5"
    arguments[arguments.index("--max_leaf_nodes") + 1] = "2"
    hyperparameters, _ = train.parse_arguments(arguments)
    assert hyperparameters.max_iter == 1 and hyperparameters.class_weight == "none"
