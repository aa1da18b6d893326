from __future__ import annotations

import json
from typing import Any

import pytest

from retrain.contracts import PromotionDecision
from retrain.errors import EvaluationFailed

FOLDER = "models/run/evaluation"


@pytest.fixture
def compare(stack: Any, load_handler: Any, context: Any, plan: Any) -> Any:
    handler = load_handler("compare_with_champion").handler

    def run_compare(document: Any | None) -> PromotionDecision:
        if document is not None:
            body = document if isinstance(document, bytes) else json.dumps(document).encode()
            stack.s3.put_object(Bucket=stack.bucket, Key=f"{FOLDER}/evaluation.json", Body=body)
        event = {"run": plan(), "evaluation_uri": f"s3://{stack.bucket}/{FOLDER}/evaluation.json"}
        return PromotionDecision.model_validate(handler(event, context))

    return run_compare


def test_a_better_candidate_is_promoted_with_reasons(stack: Any, compare: Any) -> None:
    decision = compare(
        {
            "candidate": {"average_precision": 0.412, "roc_auc": 0.88, "confusion_matrix": [[1, 2], [3, 4]]},
            "champion": {"average_precision": 0.377, "roc_auc": 0.875},
            "test_rows": 1234,
        }
    )

    assert decision.promote
    assert decision.metric == "average_precision"
    assert decision.candidate == {"average_precision": 0.412, "roc_auc": 0.88}
    assert decision.champion == {"average_precision": 0.377, "roc_auc": 0.875}
    assert decision.reasons[0] == "average_precision 0.412 vs champion 0.377: +0.035 ≥ required +0.005"
    assert decision.reasons[1].startswith("guardrail roc_auc 0.880 vs champion 0.875: +0.005 within")
    assert decision.report_uri == f"s3://{stack.bucket}/{FOLDER}/report.html"


def test_a_worse_candidate_keeps_the_champion(compare: Any) -> None:
    decision = compare(
        {
            "candidate": {"average_precision": 0.35, "roc_auc": 0.9},
            "champion": {"average_precision": 0.377, "roc_auc": 0.9},
        }
    )

    assert not decision.promote
    assert "worse than the champion" in decision.reasons[0]


def test_the_first_candidate_is_promoted_above_the_floor(compare: Any) -> None:
    decision = compare({"candidate": {"average_precision": 0.3, "roc_auc": 0.8}, "champion": None})

    assert decision.promote and decision.champion is None
    assert decision.reasons == [
        "no champion yet: this is the first candidate",
        "average_precision 0.300 ≥ required minimum 0.200",
    ]


def test_a_missing_file_is_an_evaluation_failure(compare: Any) -> None:
    with pytest.raises(EvaluationFailed, match=r"evaluation\.json: no such object"):
        compare(None)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (b"{not json", r"is not valid JSON"),
        ([1, 2], r"got a JSON list"),
        ({"champion": None}, r"'candidate' is missing"),
        ({"candidate": {"average_precision": 0.3}}, r"'champion' is missing"),
        ({"candidate": {"average_precision": "high"}, "champion": None}, r"no numeric metric"),
        ({"candidate": {"roc_auc": 0.8}, "champion": None}, r"no 'average_precision' for the candidate"),
        ({"candidate": {"average_precision": float("nan")}, "champion": None}, r"average_precision is nan"),
        (
            {"candidate": {"average_precision": None, "roc_auc": 0.5}, "champion": None},
            r"reports 'average_precision' of the candidate as null: .* both classes",
        ),
    ],
)
def test_a_malformed_file_names_the_problem(compare: Any, document: Any, problem: str) -> None:
    with pytest.raises(EvaluationFailed, match=problem):
        compare(document)
