"""The run's trigger and reason reach the candidate's model package: the committed definition's RegisterCandidate
state, run by the local Step Functions engine against the local SageMaker (which checks the request against
botocore's model: `ModelPackageDescription` at most 1024 characters of letters, marks, spaces, symbols, numbers
and punctuation; `CustomerMetadataValue` no '<', '>' or ','), on the run plan ValidateInput makes of a `drift`
or `quality` alarm's input (docs/monitoring.md: the reason appears in the package's description, its
`CustomerMetadataProperties` keep the trigger)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retrain.config import load_config
from retrain.contracts import ValidateInputEvent
from retrain.planning import plan_run
from retrain.quality_alarm import QualityAlarmFired
from tests.support.polling import wait_until
from tests.support.sagemaker import IMAGE, ROLE_ARN, SageMakerWorld
from tests.unit.tasks.test_task_start_retrain_quality import quality_event

pytestmark = pytest.mark.local

ROOT = Path(__file__).resolve().parents[3]
DRIFT_REASON = "drift alarm fraud-detector-data-quality-drift: account_age_days 0.203 > 0.1, amount 0.12 > 0.1"


def quality_input() -> dict[str, Any]:
    fired = QualityAlarmFired.from_event(quality_event())
    assert fired is not None
    return fired.execution_input().model_dump(mode="json", exclude_none=True)


def registered(world: SageMakerWorld, name: str, given: dict[str, Any]) -> dict[str, Any]:
    """The package RegisterCandidate registers for execution `name` of input `given`."""
    group = f"{name}-group"
    world.sm.create_model_package_group(ModelPackageGroupName=group)
    event = ValidateInputEvent.model_validate(
        {
            "execution_name": name,
            "execution_id": f"arn:aws:states:us-east-1:000000000000:execution:retrain:{name}",
            "start_time": "2025-01-01T10:31:00Z",
            "input": given,
            "resources": {
                "bucket": world.bucket,
                "state_table": "table",
                "sagemaker_role_arn": ROLE_ARN,
                "image_uri": IMAGE,
                "training_code_uri": f"s3://{world.bucket}/code/inference.tar.gz",
                "model_package_group": group,
                "endpoint_name": "fraud-detector",
                "code_version": "abc1234",
            },
        }
    )
    plan = plan_run(event, load_config(ROOT / "retrain.toml"), "us-east-1").model_dump(mode="json")
    evaluation = f"s3://{world.bucket}/models/{name}/evaluation"
    state_input = {
        "run": plan,
        "data": {
            "window_start": "2025-01-01T00:00:00Z",
            "window_end": "2025-01-31T00:00:00Z",
            "new_watermark": "2025-01-31T00:00:00Z",
        },
        "training": {"model_data_url": world.put(f"models/{name}/model.tar.gz", b"model"), "job_name": f"{name}-t"},
        "evaluation": {
            "evaluation_uri": f"{evaluation}/evaluation.json",
            "statistics_uri": f"{evaluation}/baseline/statistics.json",
            "constraints_uri": f"{evaluation}/baseline/constraints.json",
            "job_name": f"{name}-e",
        },
        "decision": {"metric": "average_precision", "report_uri": f"{evaluation}/report.html"},
    }
    definition = json.loads((ROOT / "definitions" / "retrain.asl.json").read_text(encoding="utf-8"))
    state = {
        key: value for key, value in definition["States"]["RegisterCandidate"].items() if key not in ("Catch", "Next")
    }
    machine = {"StartAt": "RegisterCandidate", "States": {"RegisterCandidate": {**state, "End": True}}}
    sfn = world.client("stepfunctions")
    created = sfn.create_state_machine(name=name, definition=json.dumps(machine), roleArn=ROLE_ARN)
    execution = sfn.start_execution(
        stateMachineArn=created["stateMachineArn"], name=name, input=json.dumps(state_input)
    )
    ended = run_to_end(world, execution["executionArn"])
    assert ended["status"] == "SUCCEEDED", ended
    arn = json.loads(ended["output"])["package"]["arn"]
    package: dict[str, Any] = world.sm.describe_model_package(ModelPackageName=arn)
    return package


def run_to_end(world: SageMakerWorld, execution_arn: str) -> dict[str, Any]:
    sfn = world.client("stepfunctions")
    return dict(
        wait_until(
            lambda: (d := sfn.describe_execution(executionArn=execution_arn))["status"] != "RUNNING" and d,
            60,
            "RegisterCandidate to end",
        )
    )


@pytest.mark.parametrize(
    ("trigger", "given"),
    [
        ("drift", lambda: {"trigger": "drift", "reason": DRIFT_REASON, "max_data_checks": 1}),
        ("quality", quality_input),
    ],
)
def test_the_alarms_reason_is_in_the_model_packages_lineage(
    world: SageMakerWorld, unique_name: str, trigger: str, given: Any
) -> None:
    sent = given()
    package = registered(world, unique_name, sent)
    reason = sent["reason"]
    if trigger == "quality":  # the metric, its value, the threshold, the count and the window
        assert reason.startswith("quality alarm fraud-endpoint-data-quality-quality: average_precision 0.0213 < 0.2 ")
        assert "over 412 labelled predictions in the 3600 s window of 2025-01-01T09:31:00.000+0000" in reason
    assert package["ModelPackageDescription"] == (
        f"Candidate trained by execution {unique_name} (trigger {trigger}: {reason})"
    )
    assert package["CustomerMetadataProperties"]["trigger"] == trigger
    assert package["CustomerMetadataProperties"]["execution"] == unique_name
