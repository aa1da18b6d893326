"""The promotion policy: does the candidate replace the champion? A pure function with reasons.

A candidate is promoted when, on the decisive metric, it beats the champion by at least
`min_absolute_gain` and by at least `min_relative_gain` of the champion's value (a tie never
promotes), and no guardrail metric regresses by more than its `max_regression`. Without a champion,
the first candidate is promoted when it reaches `min_metric_value` (a ceiling for a metric to
minimize). Each reason is a sentence an ML lead can check against the evaluation report.
"""

from __future__ import annotations

from collections.abc import Mapping

from retrain.config import Direction, PromotionConfig
from retrain.contracts import CompareWithChampionEvent, PromotionDecision
from retrain.errors import EvaluationFailed
from retrain.evaluation_metrics import EvaluationMetrics, parse_evaluation
from retrain.ports import ObjectStore
from retrain.s3_uri import sibling_uri, split_s3_uri

# Metrics are floats computed from the same data: differences within this are equal, so that
# 0.412 - 0.407 passes a required gain of 0.005 despite binary rounding.
TOLERANCE = 1e-9


REPORT_NAME = "report.html"  # written by the evaluation job next to evaluation.json


def compare_with_champion(
    event: CompareWithChampionEvent, policy: PromotionConfig, objects: ObjectStore
) -> PromotionDecision:
    uri = event.evaluation_uri
    try:
        bucket, key = split_s3_uri(uri)
    except ValueError as error:
        raise EvaluationFailed(f"evaluation_uri: {error}") from None
    document = objects.read(bucket, key)
    if document is None:
        raise EvaluationFailed(
            f"{uri}: no such object; the evaluation job finished without writing it. Read its log "
            "(/aws/sagemaker/ProcessingJobs)."
        )
    return decide(policy, parse_evaluation(document, uri), sibling_uri(uri, REPORT_NAME))


def decide(policy: PromotionConfig, evaluation: EvaluationMetrics, report_uri: str) -> PromotionDecision:
    candidate, champion = evaluation.candidate, evaluation.champion
    uncomputed = evaluation.uncomputed

    def metric(metrics: Mapping[str, float], name: str, role: str) -> float:
        if name in metrics:
            return metrics[name]
        if name in uncomputed.get(role, frozenset()):
            raise EvaluationFailed(
                f"evaluation.json reports {name!r} of the {role} as null: the evaluation could not compute it "
                "(does the test split hold both classes? widen training_window_days or test_fraction)"
            )
        raise EvaluationFailed(
            f"evaluation.json has no {name!r} for the {role} (it has: {', '.join(sorted(metrics))}); "
            f"make the evaluation job compute it or change [promotion] in retrain.toml"
        )

    value = metric(candidate, policy.metric, "candidate")
    reasons: list[str] = []
    if champion is None:
        promote = _first_candidate(policy, value, reasons)
    else:
        promote = _beats_champion(policy, value, metric(champion, policy.metric, "champion"), reasons)
        for guardrail in policy.guardrails:
            ours = metric(candidate, guardrail.metric, "candidate")
            theirs = metric(champion, guardrail.metric, "champion")
            regression = _gain(theirs, ours, guardrail.direction)
            within = regression <= guardrail.max_regression + TOLERANCE
            verdict = "within" if within else "exceeds"
            reasons.append(
                f"guardrail {guardrail.metric} {_num(ours)} vs champion {_num(theirs)}: "
                f"{_signed(-regression)} {verdict} the allowed regression {_num(guardrail.max_regression)}"
            )
            promote = promote and within
    return PromotionDecision(
        promote=promote,
        metric=policy.metric,
        candidate=dict(candidate),
        champion=None if champion is None else dict(champion),
        reasons=reasons,
        report_uri=report_uri,
    )


def _first_candidate(policy: PromotionConfig, value: float, reasons: list[str]) -> bool:
    reasons.append("no champion yet: this is the first candidate")
    floor = policy.min_metric_value
    if floor is None:
        reasons.append(f"{policy.metric} {_num(value)}: no minimum configured (promotion.min_metric_value)")
        return True
    if policy.direction == "maximize":
        ok = value >= floor - TOLERANCE
        sign = "≥" if ok else "<"
        bound = "minimum"
    else:
        ok = value <= floor + TOLERANCE
        sign = "≤" if ok else ">"
        bound = "maximum"
    reasons.append(f"{policy.metric} {_num(value)} {sign} required {bound} {_num(floor)}")
    return ok


def _beats_champion(policy: PromotionConfig, value: float, champion: float, reasons: list[str]) -> bool:
    gain = _gain(value, champion, policy.direction)
    relative = policy.min_relative_gain * abs(champion)
    required = f"required {_signed(max(policy.min_absolute_gain, relative))}"
    if relative > policy.min_absolute_gain:
        required += f" ({policy.min_relative_gain * 100:g}% of {_num(champion)})"
    ok = gain > TOLERANCE and gain >= max(policy.min_absolute_gain, relative) - TOLERANCE
    if ok:
        verdict = f"{_signed(gain)} ≥ {required}"
    elif gain > TOLERANCE:
        verdict = f"{_signed(gain)} < {required}"
    elif gain >= -TOLERANCE:
        verdict = f"{_signed(0.0)}, no improvement ({required})"
    else:
        verdict = f"{_signed(gain)}, worse than the champion ({required})"
    lower = " (lower is better)" if policy.direction == "minimize" else ""
    reasons.append(f"{policy.metric} {_num(value)} vs champion {_num(champion)}{lower}: {verdict}")
    return ok


def _gain(new: float, old: float, direction: Direction) -> float:
    """How much better `new` is than `old` (negative when worse)."""
    return new - old if direction == "maximize" else old - new


def _num(value: float) -> str:
    # Three decimals read well for scores in [0, 1]; keep significant digits for tiny or huge ones.
    if value != 0 and (abs(value) < 0.01 or abs(value) >= 1e5):
        return f"{value:.3g}"
    return f"{value:.3f}"


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + _num(abs(value))
