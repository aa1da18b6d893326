from __future__ import annotations

from typing import Any

import pytest

from retrain.contracts import Champion
from retrain.errors import PipelineStateError

DECISION: dict[str, Any] = {
    "promote": True,
    "metric": "average_precision",
    "candidate": {"average_precision": 0.412, "roc_auc": 0.88},
    "champion": None,
    "reasons": ["no champion yet: this is the first candidate"],
    "report_uri": "s3://retrain-data/models/run/evaluation/report.html",
}
APPROVAL = {"approved_by": "alice", "reason": "better recall on new merchants", "approved_at": "2024-06-01T09:00:00Z"}


def data_check(watermark: str) -> dict[str, Any]:
    return {
        "enough": True,
        "keep_waiting": False,
        "checks_done": 1,
        "new_objects": 3,
        "new_bytes": 300,
        "previous_watermark": "",
        "new_watermark": watermark,
        "window_start": "2024-05-30",
        "window_end": "2024-05-31",
        "champion_model_uri": "none",
        "delivery_errors": {"after": "", "until": "2024-06-01T03:00:00.000000Z", "records": 1, "objects": 1},
    }


@pytest.fixture
def promote(stack: Any, load_handler: Any, context: Any, plan: Any) -> Any:
    handler = load_handler("promote_champion").handler

    def invoke(name: str, started: str, package: str, watermark: str) -> Champion:
        event = {
            "run": plan(name, start_time=started),
            "data": data_check(watermark),
            "model_package_arn": package,
            "model_data_url": f"s3://retrain-data/models/{name}/training/job/output/model.tar.gz",
            "decision": DECISION,
            "approval": APPROVAL,
        }
        return Champion.model_validate(handler(event, context))

    return invoke


def approve_pending(stack: Any, name: str) -> None:
    stack.dynamodb.put_item(
        TableName=stack.table,
        Item={"pk": {"S": stack.pipeline}, "sk": {"S": f"APPROVAL#{name}"}, "status": {"S": "PENDING"}},
    )


def test_records_the_champion_and_approves_the_package(stack: Any, promote: Any) -> None:
    package = stack.model_package()
    approve_pending(stack, "run-a")

    champion = promote("run-a", "2024-06-01T03:00:00Z", package, "landing/date=2024-05-31/part-0.csv")

    assert champion.execution_name == "run-a"
    assert champion.model_name == "run-a-model" and champion.endpoint_config_name == "run-a-config"
    assert champion.metrics == DECISION["candidate"]
    stored = stack.item("CHAMPION")
    assert stored["model_package_arn"]["S"] == package
    assert stored["metrics"]["M"]["average_precision"]["N"] == "0.412"
    assert stack.item(f"CHAMPION#{champion.promoted_at}")["execution_name"]["S"] == "run-a"
    watermark = stack.item("WATERMARK")
    assert (watermark["key"]["S"], watermark["updated_by"]["S"]) == ("landing/date=2024-05-31/part-0.csv", "run-a")
    # The refused records this run counted are behind the mark now: the next run starts after them.
    assert watermark["errors_until"]["S"] == "2024-06-01T03:00:00.000000Z"
    approval = stack.item("APPROVAL#run-a")
    assert (approval["status"]["S"], approval["approved_by"]["S"]) == ("APPROVED", "alice")
    described = stack.sagemaker.describe_model_package(ModelPackageName=package)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"].startswith("Approved by alice at 2024-06-01T09:00:00Z: better recall")


def test_a_retry_is_a_no_op(stack: Any, promote: Any) -> None:
    package = stack.model_package()

    first = promote("run-a", "2024-06-01T03:00:00Z", package, "landing/date=2024-05-31/part-0.csv")
    second = promote("run-a", "2024-06-01T03:00:00Z", package, "landing/date=2024-05-31/part-0.csv")

    assert second == first
    assert [key for key in stack.sort_keys() if key.startswith("CHAMPION")] == [
        "CHAMPION",
        f"CHAMPION#{first.promoted_at}",
    ]


def test_a_newer_execution_replaces_the_champion(stack: Any, promote: Any) -> None:
    package = stack.model_package()
    promote("run-a", "2024-06-01T03:00:00Z", package, "landing/date=2024-05-31/part-0.csv")

    newer = promote("run-b", "2024-06-02T03:00:00Z", package, "landing/date=2024-06-01/part-0.csv")

    assert stack.item("CHAMPION")["execution_name"]["S"] == newer.execution_name == "run-b"
    assert stack.item("WATERMARK")["key"]["S"] == "landing/date=2024-06-01/part-0.csv"
    assert len([key for key in stack.sort_keys() if key.startswith("CHAMPION#")]) == 2


def test_an_older_execution_never_overwrites_a_newer_champion(stack: Any, promote: Any) -> None:
    package = stack.model_package()
    promote("run-b", "2024-06-02T03:00:00Z", package, "landing/date=2024-06-01/part-0.csv")

    with pytest.raises(PipelineStateError, match=r"run-a .* after the newer execution run-b"):
        promote("run-a", "2024-06-01T03:00:00Z", package, "landing/date=2024-05-31/part-0.csv")

    assert stack.item("CHAMPION")["execution_name"]["S"] == "run-b"
    assert stack.item("WATERMARK")["key"]["S"] == "landing/date=2024-06-01/part-0.csv"
    assert stack.item("APPROVAL#run-a") is None
