from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retrain.contracts import NO_CHAMPION, RunPlan
from retrain.errors import ConfigError, InvalidExecutionInput, InvalidTaskInput


@pytest.fixture
def handler(load_handler: Any) -> Any:
    return load_handler("validate_input").handler


def test_returns_the_whole_state_document(handler: Any, context: Any, validate_event: Any, stack: Any) -> None:
    result = handler(validate_event(trigger="schedule", reason="nightly"), context)

    assert set(result) == {"input", "run", "data"}
    assert result["input"] == {"trigger": "schedule", "reason": "nightly"}
    assert result["data"] == {"checks_done": 0, "settle_checks_done": 0}
    run = RunPlan.model_validate(result["run"])
    assert run.pipeline == "fraud-retrain"
    assert (run.bucket, run.state_table, run.trigger, run.reason) == (stack.bucket, stack.table, "schedule", "nightly")
    assert run.started_at == "2024-06-01T03:00:00.123000Z"
    assert run.evaluation.champion_model_uri == NO_CHAMPION
    json.dumps(result)  # the state document must be plain JSON


def test_names_and_uris_derive_from_the_execution_name(
    handler: Any, context: Any, validate_event: Any, stack: Any
) -> None:
    run = RunPlan.model_validate(handler(validate_event("fraud-retrain-2024-06-01"), context)["run"])

    names = run.names
    assert names.base == "fraud-retrain-2024-06-01"
    assert names.training_job_prefix == "fraud-retrain-2024-06-01-train"
    assert names.processing_job_prefix == "fraud-retrain-2024-06-01-eval"
    assert names.model == "fraud-retrain-2024-06-01-model"
    assert names.endpoint_config == "fraud-retrain-2024-06-01-config"
    assert run.data.landing_uri == f"s3://{stack.bucket}/landing/"
    assert run.data.processed_uri == f"s3://{stack.bucket}/processed/fraud-retrain-2024-06-01/"
    assert run.data.models_uri == f"s3://{stack.bucket}/models/fraud-retrain-2024-06-01/"
    assert run.training.output_uri == f"s3://{stack.bucket}/models/fraud-retrain-2024-06-01/training"
    assert run.evaluation.output_uri == f"s3://{stack.bucket}/models/fraud-retrain-2024-06-01/evaluation"
    assert run.training.code_uri == f"s3://{stack.bucket}/code/sourcedir.tar.gz"


def test_hyperparameters_are_json_encoded_with_script_mode_keys(
    handler: Any, context: Any, validate_event: Any, stack: Any
) -> None:
    event = validate_event(hyperparameters={"learning_rate": 0.05, "early_stopping": False, "loss": "log"})
    hyperparameters = handler(event, context)["run"]["training"]["hyperparameters"]

    assert hyperparameters["learning_rate"] == "0.05"  # the input overrides the config's 0.1
    assert hyperparameters["early_stopping"] == "false"
    assert hyperparameters["loss"] == '"log"'
    assert hyperparameters["max_iter"] == "200"  # from retrain.toml
    assert hyperparameters["sagemaker_program"] == '"train.py"'
    assert hyperparameters["sagemaker_submit_directory"] == f'"s3://{stack.bucket}/code/sourcedir.tar.gz"'
    assert hyperparameters["sagemaker_container_log_level"] == "20"
    assert hyperparameters["sagemaker_region"] == '"eu-west-1"'
    assert hyperparameters["target"] == '"is_fraud"'
    assert {json.loads(value) is not None for value in hyperparameters.values()} == {True}


def test_input_overrides_per_run_settings(handler: Any, context: Any, validate_event: Any) -> None:
    event = validate_event(approval_timeout_seconds=600, traffic_routing="LINEAR", min_new_objects=5, max_data_checks=7)
    run = RunPlan.model_validate(handler(event, context)["run"])

    assert run.approval_timeout_seconds == 600
    assert run.data.min_new_objects == 5
    assert run.data.max_data_checks == 7
    assert run.deployment.traffic_routing == {
        "Type": "LINEAR",
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
        "WaitIntervalInSeconds": 300,
    }


def test_config_defaults_fill_what_the_input_leaves_out(handler: Any, context: Any, validate_event: Any) -> None:
    run = RunPlan.model_validate(handler(validate_event(), context)["run"])

    assert run.approval_timeout_seconds == 86400
    assert run.deployment.traffic_routing == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
        "WaitIntervalInSeconds": 300,
    }
    assert run.deployment.alarms == [
        {"AlarmName": "fraud-detector-invocation-errors"},
        {"AlarmName": "fraud-detector-model-latency"},
    ]
    dataset = json.loads(run.dataset_json)
    assert dataset["target"] == "is_fraud"
    assert dataset["schema"]["amount"] == "double"


def test_a_bad_field_names_itself_and_the_fix(handler: Any, context: Any, validate_event: Any) -> None:
    with pytest.raises(InvalidExecutionInput) as caught:
        handler(validate_event(approval_timeout_seconds="soon"), context)

    assert str(caught.value) == (
        "input.approval_timeout_seconds: expected an integer >= 60 and <= 31536000, got 'soon'. "
        "Fix the execution input and start a new execution."
    )


def test_a_non_object_input_is_the_callers_error(handler: Any, context: Any, validate_event: Any) -> None:
    event = validate_event()
    event["input"] = ["not", "an", "object"]

    with pytest.raises(InvalidExecutionInput, match=r"^input: expected a JSON object"):
        handler(event, context)


def test_a_reserved_hyperparameter_is_refused(handler: Any, context: Any, validate_event: Any) -> None:
    with pytest.raises(InvalidExecutionInput, match=r"input\.hyperparameters\.sagemaker_program: reserved"):
        handler(validate_event(hyperparameters={"sagemaker_program": "evil.py"}), context)


# botocore `sagemaker/2017-07-24/service-2.json`: HyperParameters max 100, HyperParameterKey max 256,
# HyperParameterValue max 2500 (CreateTrainingJob refuses more).
@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {f"h{index}": index for index in range(2000)},
            r"^hyperparameters: 2007 given .* at most 100 of which the pipeline uses 5",
        ),
        ({"k" * 257: 1}, r"^hyperparameters\.k{40}\.\.\.: a key of 257 characters, SageMaker takes at most 256"),
        (
            {"notes": "x" * 2499},
            r"^hyperparameters\.notes: a value of 2501 characters as JSON, SageMaker takes at most 2500",
        ),
    ],
)
def test_hyperparameters_beyond_sagemakers_limits_are_refused(
    handler: Any, context: Any, validate_event: Any, given: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidExecutionInput, match=message):
        handler(validate_event(hyperparameters=given), context)


def test_a_detail_near_step_functions_payload_limit_is_refused(handler: Any, context: Any, validate_event: Any) -> None:
    # Step Functions quotas: 256 KB for a state's input or output; the execution input travels in each.
    with pytest.raises(InvalidExecutionInput, match=r"input\.detail: .*250\d{3} bytes as JSON, at most 8192"):
        handler(validate_event(detail={"note": "x" * 250_000}), context)
    handler(validate_event(detail={"bucket": {"name": "b"}, "object": {"key": "landing/a.csv", "size": 1}}), context)


def test_a_definition_mismatch_is_an_invalid_task_input(handler: Any, context: Any, validate_event: Any) -> None:
    event = validate_event()
    del event["resources"]["bucket"]

    with pytest.raises(InvalidTaskInput, match=r"^event\.resources\.bucket: missing; add it\. The state"):
        handler(event, context)


def test_the_config_path_can_be_overridden(
    handler: Any, context: Any, validate_event: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks._config import task_config

    broken = tmp_path / "retrain.toml"
    broken.write_text("[pipeline]\nname = 'x'\n", encoding="utf-8")
    monkeypatch.setenv("RETRAIN_CONFIG", str(broken))
    task_config.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"retrain\.toml: pipeline\.name"):
            handler(validate_event(), context)
    finally:
        task_config.cache_clear()
