from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from retrain.config import RetrainConfig, load_config, parse_config
from retrain.contracts import ValidateInputEvent
from retrain.errors import InvalidExecutionInput, InvalidTaskInput
from retrain.monitoring import request_columns_value
from retrain.planning import plan_run, traffic_routing

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def config() -> RetrainConfig:
    return load_config(ROOT / "retrain.toml")


def event(**changes: Any) -> ValidateInputEvent:
    values: dict[str, Any] = {
        "execution_name": "r1",
        "execution_id": "arn:aws:states:ap-south-1:123456789012:execution:fraud-retrain:r1",
        "start_time": "2024-06-01T05:30:00+05:30",
        "input": {},
        "resources": {
            "bucket": "b",
            "state_table": "t",
            "sagemaker_role_arn": "role",
            "image_uri": "image",
            "training_code_uri": "s3://b/code.tar.gz",
            "model_package_group": "g",
            "endpoint_name": "e",
            "code_version": "v1",
        },
    }
    return ValidateInputEvent.model_validate({**values, **changes})


def test_start_time_is_stored_in_utc(config: RetrainConfig) -> None:
    assert plan_run(event(), config, "eu-west-1").started_at == "2024-06-01T00:00:00.000000Z"


def test_the_runs_reason_is_one_line_and_travels_with_its_trigger(config: RetrainConfig) -> None:
    # The reason goes into the model package's description, which botocore's EntityDescription pattern
    # allows no line break in, and into the approval message.
    plan = plan_run(event(input={"trigger": "drift", "reason": "drift alarm a:\n  amount 0.42 > 0.1"}), config, None)
    assert (plan.trigger, plan.reason) == ("drift", "drift alarm a: amount 0.42 > 0.1")


def test_a_bad_start_time_is_a_task_input_error(config: RetrainConfig) -> None:
    with pytest.raises(InvalidTaskInput, match=r"event\.start_time: expected an ISO 8601 time, got 'yesterday'"):
        plan_run(event(start_time="yesterday"), config, "eu-west-1")


def test_the_region_falls_back_to_the_executions(config: RetrainConfig) -> None:
    plan = plan_run(event(), config, None)

    assert plan.training.hyperparameters["sagemaker_region"] == '"ap-south-1"'


def test_all_at_once_routing(config: RetrainConfig) -> None:
    assert traffic_routing(config, "ALL_AT_ONCE", 300) == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}


def test_rollout_timings_from_the_input_win_even_when_zero(config: RetrainConfig) -> None:
    given = {
        "wait_interval_seconds": 0,
        "termination_wait_seconds": 5,
        "endpoint_poll_seconds": 2,
        "max_endpoint_polls": 30,
        "traffic_routing": "LINEAR",
    }
    deployment = plan_run(event(input=given), config, "eu-west-1").deployment
    assert deployment.traffic_routing["WaitIntervalInSeconds"] == 0
    assert deployment.traffic_routing["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 50}
    assert (deployment.termination_wait_seconds, deployment.poll_seconds, deployment.max_polls) == (5, 2, 30)


def test_an_input_rollout_aws_refuses_is_refused_naming_the_key(config: RetrainConfig) -> None:
    # botocore BlueGreenUpdatePolicy: the execution timeout must exceed the waits (3600 s here).
    with pytest.raises(
        InvalidExecutionInput, match=r"^input: with deployment\.maximum_execution_timeout_seconds: 3600 s"
    ):
        plan_run(event(input={"wait_interval_seconds": 3600}), config, "eu-west-1")
    one = config.model_copy(update={"deployment": config.deployment.model_copy(update={"initial_instance_count": 1})})
    plan_run(event(input={"traffic_routing": "ALL_AT_ONCE"}), one, "eu-west-1")
    with pytest.raises(
        InvalidExecutionInput, match="linear_step_percent: a 50% linear step on initial_instance_count = 1"
    ):
        plan_run(event(input={"traffic_routing": "LINEAR"}), one, "eu-west-1")


def test_rollout_timings_default_to_the_config(config: RetrainConfig) -> None:
    deployment = plan_run(event(), config, "eu-west-1").deployment
    assert deployment.traffic_routing["WaitIntervalInSeconds"] == config.deployment.wait_interval_seconds
    assert deployment.poll_seconds == config.deployment.endpoint_poll_seconds


def test_deployment_run_defaults_apply_under_the_input(config: RetrainConfig) -> None:
    defaults = {"wait_interval_seconds": 10, "endpoint_poll_seconds": 2}
    plan = plan_run(event(input={"endpoint_poll_seconds": 7}), config, "eu-west-1", defaults)
    assert plan.deployment.traffic_routing["WaitIntervalInSeconds"] == 10
    assert plan.deployment.poll_seconds == 7


def test_every_endpoint_config_captures_its_traffic_under_the_capture_prefix(config: RetrainConfig) -> None:
    capture = plan_run(event(), config, "eu-west-1").deployment.data_capture
    bucket = event().resources.bucket
    # SageMaker appends /<endpoint>/<variant>/yyyy/mm/dd/hh/ to the destination itself.
    assert capture["DestinationS3Uri"] == f"s3://{bucket}/{config.data.capture_prefix.rstrip('/')}"
    assert capture["InitialSamplingPercentage"] == config.monitoring.capture_sampling_percentage
    assert capture["EnableCapture"] is True
    assert {option["CaptureMode"] for option in capture["CaptureOptions"]} == {"Input", "Output"}
    # CSV and JSON kept as text: any content type the header leaves out is captured base64-encoded.
    assert capture["CaptureContentTypeHeader"] == {
        "CsvContentTypes": ["text/csv"],
        "JsonContentTypes": ["application/json"],
    }


def test_the_sampling_and_the_prefix_come_from_the_config(config: RetrainConfig) -> None:
    changed = config.model_copy(
        update={
            "monitoring": config.monitoring.model_copy(update={"capture_sampling_percentage": 5}),
            "data": config.data.model_copy(update={"capture_prefix": "traffic/captured/"}),
        }
    )
    capture = plan_run(event(), changed, "eu-west-1").deployment.data_capture
    assert capture["InitialSamplingPercentage"] == 5
    assert capture["DestinationS3Uri"].endswith("/traffic/captured")


def test_the_monitoring_schedule_compares_the_endpoint_with_this_runs_baseline(config: RetrainConfig) -> None:
    plan = plan_run(event(), config, "eu-west-1")
    monitoring = plan.deployment.monitoring
    assert monitoring is not None
    assert monitoring.schedule_name == "e-data-quality"
    schedule = monitoring.schedule_config
    assert schedule["ScheduleConfig"] == {"ScheduleExpression": config.monitoring.schedule_expression}
    job = schedule["MonitoringJobDefinition"]
    # The evaluation job writes the candidate's baseline under its output's baseline/.
    baseline = f"{plan.evaluation.output_uri}/baseline"
    assert job["BaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": f"{baseline}/constraints.json"},
        "StatisticsResource": {"S3Uri": f"{baseline}/statistics.json"},
    }
    assert job["MonitoringInputs"][0]["EndpointInput"]["EndpointName"] == "e"
    assert job["MonitoringOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"] == "s3://b/monitoring/e"
    assert job["MonitoringAppSpecification"]["ImageUri"] == "image"
    assert job["MonitoringAppSpecification"]["ContainerArguments"] == ["s3://b/code.tar.gz", "monitor.py"]
    assert job["RoleArn"] == "role"
    assert job["MonitoringResources"]["ClusterConfig"]["InstanceType"] == config.monitoring.instance_type
    # A request's columns as the endpoint takes them (all but the target): the job picks the baseline's out.
    request = [column for column in config.dataset.schema_ if column != config.dataset.target]
    # Live quality: the promotion metric over the predictions whose labels landed, joined by the id column.
    assert job["Environment"] == {
        "request_columns": ",".join(request),
        "quality_metric": config.promotion.metric,
        "quality_min_labels": "100",
        "quality_labels": "s3://b/landing/",
        "quality_input_format": "csv",
        "id_column": config.dataset.id_column,
        "timestamp_column": config.dataset.timestamp_column,
        "target_column": config.dataset.target,
    }


def test_a_label_delay_has_the_job_judge_the_window_that_many_periods_back_from_the_capture(
    config: RetrainConfig,
) -> None:
    delayed = parse_config(
        {**config.model_dump(by_alias=True), "monitoring": {**config.monitoring.model_dump(), "label_delay": 24}}
    )
    monitoring = plan_run(event(), delayed, "eu-west-1").deployment.monitoring
    assert monitoring is not None
    environment = monitoring.schedule_config["MonitoringJobDefinition"]["Environment"]
    # Hourly runs: 24 windows back; the platform stages the run's own window, so the job reads that one itself.
    assert environment["quality_label_delay_windows"] == "24"
    assert environment["quality_capture"] == "s3://b/capture/e/"


def test_request_columns_too_long_for_the_jobs_environment_are_refused() -> None:
    with pytest.raises(ValueError, match="do not fit the monitoring job's environment"):
        request_columns_value([f"column_{n:03d}" for n in range(30)])


def test_the_schedule_request_is_one_sagemaker_takes(config: RetrainConfig) -> None:
    long_endpoint = "e" * 63
    resources = {**event().resources.model_dump(), "endpoint_name": long_endpoint}
    resources["sagemaker_role_arn"] = "arn:aws:iam::123456789012:role/sagemaker"
    monitoring = plan_run(event(resources=resources), config, "eu-west-1").deployment.monitoring
    assert monitoring is not None
    request = {
        "MonitoringScheduleName": monitoring.schedule_name,
        "MonitoringScheduleConfig": monitoring.schedule_config,
    }
    # botocore's own check of the request, as the SDK runs it before a call.
    model = botocore.session.get_session().get_service_model("sagemaker")
    for operation in ("CreateMonitoringSchedule", "UpdateMonitoringSchedule"):
        errors = ParamValidator().validate(request, model.operation_model(operation).input_shape)
        assert not errors.has_errors(), errors.generate_report()
    assert len(monitoring.schedule_name) <= 63
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", monitoring.schedule_name)


def test_an_empty_schedule_expression_plans_no_monitoring(config: RetrainConfig) -> None:
    off = config.model_copy(update={"monitoring": config.monitoring.model_copy(update={"schedule_expression": ""})})
    assert plan_run(event(), off, "eu-west-1").deployment.monitoring is None
