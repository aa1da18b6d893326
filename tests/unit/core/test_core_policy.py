"""The promotion policy as a table: one row per situation an ML lead would ask about."""

from __future__ import annotations

from typing import Any

import pytest

from retrain.config import Guardrail, PromotionConfig
from retrain.errors import EvaluationFailed
from retrain.evaluation_metrics import EvaluationMetrics
from retrain.policy import decide

AP = "average_precision"
BASE = PromotionConfig(
    metric=AP,
    min_absolute_gain=0.005,
    min_metric_value=0.2,
    guardrails=[Guardrail(metric="roc_auc", max_regression=0.01)],
)


def policy(**changes: Any) -> PromotionConfig:
    return BASE.model_copy(update=changes)


CASES = [
    # id, policy, candidate, champion, promote, first reason
    (
        "better",
        BASE,
        {AP: 0.412, "roc_auc": 0.88},
        {AP: 0.377, "roc_auc": 0.875},
        True,
        "average_precision 0.412 vs champion 0.377: +0.035 ≥ required +0.005",
    ),
    (
        "worse",
        BASE,
        {AP: 0.350, "roc_auc": 0.88},
        {AP: 0.377, "roc_auc": 0.875},
        False,
        "average_precision 0.350 vs champion 0.377: -0.027, worse than the champion (required +0.005)",
    ),
    (
        "equal",
        policy(min_absolute_gain=0.0),
        {AP: 0.377, "roc_auc": 0.88},
        {AP: 0.377, "roc_auc": 0.875},
        False,
        "average_precision 0.377 vs champion 0.377: +0.000, no improvement (required +0.000)",
    ),
    (
        "below the minimum gain",
        BASE,
        {AP: 0.380, "roc_auc": 0.88},
        {AP: 0.377, "roc_auc": 0.875},
        False,
        "average_precision 0.380 vs champion 0.377: +0.003 < required +0.005",
    ),
    (
        "exactly the minimum gain despite float rounding",
        BASE,
        {AP: 0.412, "roc_auc": 0.88},
        {AP: 0.407, "roc_auc": 0.875},
        True,
        "average_precision 0.412 vs champion 0.407: +0.005 ≥ required +0.005",
    ),
    (
        "relative gain is the stricter requirement",
        policy(min_relative_gain=0.1),
        {AP: 0.400, "roc_auc": 0.88},
        {AP: 0.377, "roc_auc": 0.875},
        False,
        "average_precision 0.400 vs champion 0.377: +0.023 < required +0.038 (10% of 0.377)",
    ),
    (
        "relative gain met",
        policy(min_relative_gain=0.05),
        {AP: 0.400, "roc_auc": 0.88},
        {AP: 0.377, "roc_auc": 0.875},
        True,
        "average_precision 0.400 vs champion 0.377: +0.023 ≥ required +0.019 (5% of 0.377)",
    ),
    (
        "minimize: lower is better",
        policy(metric="log_loss", direction="minimize", min_metric_value=None),
        {"log_loss": 0.30, "roc_auc": 0.88},
        {"log_loss": 0.35, "roc_auc": 0.875},
        True,
        "log_loss 0.300 vs champion 0.350 (lower is better): +0.050 ≥ required +0.005",
    ),
    (
        "minimize: higher is worse",
        policy(metric="log_loss", direction="minimize", min_metric_value=None),
        {"log_loss": 0.40, "roc_auc": 0.88},
        {"log_loss": 0.35, "roc_auc": 0.875},
        False,
        "log_loss 0.400 vs champion 0.350 (lower is better): -0.050, worse than the champion (required +0.005)",
    ),
    (
        "guardrail breach",
        BASE,
        {AP: 0.450, "roc_auc": 0.850},
        {AP: 0.377, "roc_auc": 0.875},
        False,
        "average_precision 0.450 vs champion 0.377: +0.073 ≥ required +0.005",
    ),
    (
        "first candidate above the floor",
        BASE,
        {AP: 0.250},
        None,
        True,
        "no champion yet: this is the first candidate",
    ),
    (
        "first candidate below the floor",
        BASE,
        {AP: 0.150},
        None,
        False,
        "no champion yet: this is the first candidate",
    ),
    (
        "first candidate without a floor",
        policy(min_metric_value=None),
        {AP: 0.010},
        None,
        True,
        "no champion yet: this is the first candidate",
    ),
    (
        "first candidate of a metric to minimize must stay under the ceiling",
        policy(metric="log_loss", direction="minimize", min_metric_value=0.5),
        {"log_loss": 0.6},
        None,
        False,
        "no champion yet: this is the first candidate",
    ),
]


@pytest.mark.parametrize(
    ("config", "candidate", "champion", "promote", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_policy(
    config: PromotionConfig,
    candidate: dict[str, float],
    champion: dict[str, float] | None,
    promote: bool,
    reason: str,
) -> None:
    decision = decide(config, EvaluationMetrics(candidate, champion), "s3://b/report.html")

    assert decision.promote is promote
    assert decision.reasons[0] == reason
    assert decision.candidate == candidate and decision.champion == champion
    assert decision.metric == config.metric and decision.report_uri == "s3://b/report.html"


def test_guardrail_reasons_say_which_metric_regressed() -> None:
    decision = decide(BASE, EvaluationMetrics({AP: 0.45, "roc_auc": 0.85}, {AP: 0.377, "roc_auc": 0.875}), "r")

    assert decision.reasons[1] == (
        "guardrail roc_auc 0.850 vs champion 0.875: -0.025 exceeds the allowed regression 0.010"
    )


def test_guardrails_do_not_apply_to_a_first_candidate() -> None:
    decision = decide(BASE, EvaluationMetrics({AP: 0.3}, None), "r")

    assert decision.promote
    assert decision.reasons == [
        "no champion yet: this is the first candidate",
        "average_precision 0.300 ≥ required minimum 0.200",
    ]


def test_the_floor_reason_names_the_bound() -> None:
    decision = decide(BASE, EvaluationMetrics({AP: 0.15}, None), "r")

    assert decision.reasons[1] == "average_precision 0.150 < required minimum 0.200"


@pytest.mark.parametrize(
    ("candidate", "champion", "role"),
    [
        ({"roc_auc": 0.9}, {AP: 0.3, "roc_auc": 0.9}, "candidate"),
        ({AP: 0.4, "roc_auc": 0.9}, {"roc_auc": 0.9}, "champion"),
        ({AP: 0.4}, {AP: 0.3, "roc_auc": 0.9}, "candidate"),  # a guardrail metric
    ],
)
def test_a_missing_metric_is_a_clear_error(candidate: dict[str, float], champion: dict[str, float], role: str) -> None:
    with pytest.raises(EvaluationFailed, match=rf"evaluation\.json has no '\w+' for the {role} \(it has: "):
        decide(BASE, EvaluationMetrics(candidate, champion), "r")
