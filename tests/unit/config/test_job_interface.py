"""Promotion metrics and hyperparameters checked against the jobs' own code (`retrain.job_interface`):
the names the evaluation writes and the arguments train.py accepts, read from jobs/ as the command does."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from cli.config_file import job_interface, load_checked_config
from retrain.config import parse_config
from retrain.errors import ConfigError
from retrain.job_interface import JobInterface

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def document() -> dict[str, Any]:
    return tomllib.loads((ROOT / "retrain.toml").read_text())


def check(document: dict[str, Any]) -> None:
    job_interface().check(parse_config(document), "retrain.toml")


def test_the_shipped_config_matches_the_jobs() -> None:
    assert load_checked_config(ROOT / "retrain.toml").promotion.metric == "average_precision"
    interface = job_interface()
    assert {"roc_auc", "average_precision", "f1"} <= set(interface.metrics)
    assert "rows" not in interface.metrics  # a count reported with the metrics, not one to compare
    assert {"learning_rate", "max_iter", "early_stopping"} <= set(interface.hyperparameters)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["promotion"].update(metric="auc_pr"),
            "retrain.toml: promotion.metric: 'auc_pr' is not a metric the evaluation produces; use one of roc_auc, "
            "average_precision,",
        ),
        (
            lambda d: d["promotion"]["guardrails"][0].update(metric="rows"),
            "retrain.toml: promotion.guardrails[0].metric: 'rows' is not a metric the evaluation produces",
        ),
        (
            lambda d: d["training"]["hyperparameters"].update(max_iters=100),
            "retrain.toml: training.hyperparameters.max_iters: not a hyperparameter of train.py, which would ignore "
            "it; use one of learning_rate, max_iter,",
        ),
        (
            lambda d: d["training"]["hyperparameters"].update(target="is_fraud"),
            "retrain.toml: training.hyperparameters.target: reserved for the pipeline; remove it",
        ),
    ],
)
def test_names_the_jobs_do_not_know_are_refused(document: dict[str, Any], change: Any, message: str) -> None:
    change(document)
    with pytest.raises(ConfigError) as raised:
        check(document)
    assert str(raised.value).startswith(message)


def test_the_names_come_from_the_code_that_uses_them() -> None:
    scoring = """
class BinaryClassificationMetrics:
    def compute(self, labels, scores):
        metrics: dict = {"lift": 1.0, "gain": 2.0}
        details = {"rows": 3}
        return {**metrics, **details}
"""
    training = """
@dataclass(frozen=True)
class Hyperparameters:
    depth: int = 3
    target: str = ""
    @classmethod
    def parse(cls, values): ...
"""
    interface = JobInterface.from_sources(scoring, training)
    assert interface == JobInterface(metrics=("lift", "gain"), hyperparameters=("depth", "target"))
    with pytest.raises(ConfigError, match=r"BinaryClassificationMetrics\.compute not found"):
        JobInterface.from_sources("x = 1", training)


def test_a_checkout_without_jobs_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"scoring\.py not found: run `retrain` from a checkout"):
        load_checked_config(ROOT / "retrain.toml", jobs_dir=tmp_path)
