"""ValidateInput's work: check the execution input and resolve every per-run setting into a RunPlan.

Everything later states need is decided here, once, from `retrain.toml`, the execution input and
the deployed resources, so the rest of the definition only copies values from `$.run`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from retrain.config import RetrainConfig
from retrain.contracts import (
    NO_CHAMPION,
    DataPlan,
    DeploymentPlan,
    EvaluationPlan,
    ExecutionInput,
    MonitoringPlan,
    Resources,
    RunPlan,
    TrainingPlan,
    ValidateInputEvent,
)
from retrain.errors import ConfigError, InvalidExecutionInput, InvalidTaskInput
from retrain.execution_arn import ExecutionArn
from retrain.field_errors import FIX_EXECUTION_INPUT, describe_invalid_document
from retrain.monitoring import (
    monitoring_app_specification,
    monitoring_schedule_config,
    monitoring_schedule_name,
    quality_environment,
)
from retrain.naming import run_names
from retrain.s3_uri import folder_uri
from retrain.timestamps import canonical_time

TRAINING_ENTRY_POINT = "train.py"
# SageMaker's script-mode logging level (logging.INFO), as the SageMaker SDK sends it.
CONTAINER_LOG_LEVEL = 20


def parse_execution_input(document: Any) -> ExecutionInput:
    if not isinstance(document, dict):
        raise InvalidExecutionInput(f"input: expected a JSON object, got {document!r:.60}. {FIX_EXECUTION_INPUT}")
    try:
        return ExecutionInput.model_validate(document)
    except ValidationError as error:
        raise InvalidExecutionInput(
            f"{describe_invalid_document(error, ExecutionInput, 'input')}. {FIX_EXECUTION_INPUT}"
        ) from None


def plan_run(
    event: ValidateInputEvent, config: RetrainConfig, region: str | None, run_defaults: dict[str, Any] | None = None
) -> RunPlan:
    """The RunPlan of one execution; `region` is the Lambda's own (the execution ARN's if unset).

    `run_defaults` are execution-input values this deployment applies when the input does not set
    them (e.g. the short rollout timings of the local stack); the input always wins.
    """
    given = parse_execution_input(event.input)
    if run_defaults:
        given = parse_execution_input({**run_defaults, **event.input})
    resources = event.resources
    names = run_names(event.execution_name)
    data = config.data
    models_uri = folder_uri(resources.bucket, data.models_prefix, names.base)
    evaluation_uri = models_uri + "evaluation"
    return RunPlan(
        pipeline=config.pipeline.name,
        execution_name=event.execution_name,
        trigger=given.trigger,
        reason=given.reason,
        requested_by=given.requested_by,
        started_at=_start_time(event.start_time),
        code_version=resources.code_version,
        bucket=resources.bucket,
        state_table=resources.state_table,
        names=names,
        data=DataPlan(
            landing_uri=folder_uri(resources.bucket, data.landing_prefix),
            processed_uri=folder_uri(resources.bucket, data.processed_prefix, names.base),
            models_uri=models_uri,
            input_format=data.input_format,
            min_new_objects=given.min_new_objects or data.min_new_objects,
            min_new_bytes=data.min_new_bytes,
            wait_for_data_seconds=given.wait_for_data_seconds or data.wait_for_data_seconds,
            max_data_checks=given.max_data_checks or data.max_data_checks,
            training_window_days=data.training_window_days,
            settle_seconds=data.settle_seconds if given.settle_seconds is None else given.settle_seconds,
            delivery_errors_uri=folder_uri(resources.bucket, config.stream.error_prefix) if config.stream else "",
        ),
        dataset_json=config.dataset.model_dump_json(by_alias=True),
        training=TrainingPlan(
            image_uri=resources.image_uri,
            role_arn=resources.sagemaker_role_arn,
            instance_type=config.training.instance_type,
            instance_count=config.training.instance_count,
            volume_size_gb=config.training.volume_size_gb,
            max_runtime_seconds=config.training.max_runtime_seconds,
            hyperparameters=training_hyperparameters(
                config,
                given,
                resources.training_code_uri,
                region or ExecutionArn.parse(event.execution_id).region,
            ),
            code_uri=resources.training_code_uri,
            # No trailing slash: SageMaker appends /<job name>/output/model.tar.gz itself.
            output_uri=models_uri + "training",
        ),
        evaluation=EvaluationPlan(
            instance_type=config.evaluation.instance_type,
            max_runtime_seconds=config.evaluation.max_runtime_seconds,
            output_uri=evaluation_uri,
            champion_model_uri=NO_CHAMPION,  # CheckForNewData looks the champion up
        ),
        approval_timeout_seconds=given.approval_timeout_seconds or config.approval.timeout_seconds,
        model_package_group=resources.model_package_group,
        deployment=_deployment_plan(config, given, resources, evaluation_uri),
    )


def _deployment_plan(
    config: RetrainConfig, given: ExecutionInput, resources: Resources, evaluation_uri: str
) -> DeploymentPlan:
    deployment = config.deployment
    routing = given.traffic_routing or deployment.traffic_routing
    wait = _given_or(given.wait_interval_seconds, deployment.wait_interval_seconds)
    termination = _given_or(given.termination_wait_seconds, deployment.termination_wait_seconds)
    # The config's own rollout was checked when it loaded; the input may pick another AWS refuses.
    problem = deployment.rollout_problem(routing, wait, termination)
    if problem:
        raise InvalidExecutionInput(f"input: with deployment.{problem}. {FIX_EXECUTION_INPUT}")
    return DeploymentPlan(
        endpoint_name=resources.endpoint_name,
        instance_type=deployment.instance_type,
        initial_instance_count=deployment.initial_instance_count,
        traffic_routing=traffic_routing(config, routing, wait),
        termination_wait_seconds=termination,
        maximum_execution_timeout_seconds=deployment.maximum_execution_timeout_seconds,
        alarms=[{"AlarmName": name} for name in deployment.alarm_names],
        data_capture=data_capture(config, resources.bucket),
        monitoring=monitoring_plan(config, resources, evaluation_uri) if config.monitoring.enabled else None,
        poll_seconds=_given_or(given.endpoint_poll_seconds, deployment.endpoint_poll_seconds),
        max_polls=_given_or(given.max_endpoint_polls, deployment.max_endpoint_polls),
    )


def data_capture(config: RetrainConfig, bucket: str) -> dict[str, Any]:
    """The endpoint's DataCaptureConfig: requests and answers, sampled, under the capture prefix.

    CSV and JSON payloads are kept as text (SageMaker base64-encodes any content type the header does
    not name), which is what Model Monitor's analyzer and the project's own readers parse.
    """
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": config.monitoring.capture_sampling_percentage,
        # SageMaker appends /<endpoint>/<variant>/yyyy/mm/dd/hh/ itself.
        "DestinationS3Uri": f"s3://{bucket}/{config.data.capture_prefix.rstrip('/')}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
    }


def monitoring_plan(config: RetrainConfig, resources: Resources, evaluation_uri: str) -> MonitoringPlan:
    """The endpoint's data-quality schedule against this run's baseline, which the evaluation job writes
    under its output (`baseline/`) and RegisterCandidate records on the package: a promoted candidate's
    schedule compares the live traffic with what that very model was trained on."""
    monitoring = config.monitoring
    endpoint = resources.endpoint_name
    return MonitoringPlan(
        schedule_name=monitoring_schedule_name(endpoint),
        schedule_config=monitoring_schedule_config(
            endpoint_name=endpoint,
            schedule_expression=monitoring.schedule_expression,
            baseline_uri=f"{evaluation_uri}/baseline",
            output_uri=folder_uri(resources.bucket, config.data.monitoring_prefix, endpoint).rstrip("/"),
            app_specification=monitoring_app_specification(resources.image_uri, resources.training_code_uri),
            role_arn=resources.sagemaker_role_arn,
            cluster={
                "InstanceCount": monitoring.instance_count,
                "InstanceType": monitoring.instance_type,
                "VolumeSizeInGB": monitoring.volume_size_gb,
            },
            max_runtime_seconds=monitoring.max_runtime_seconds,
            # What a caller sends (the schema's columns but the target), the columns the job reads a request as.
            request_columns=[column for column in config.dataset.schema_ if column != config.dataset.target],
            # Live quality: the window's predictions joined with the labels landed for them, by id.
            quality=quality_environment(
                metric=config.promotion.metric,
                min_labels=monitoring.quality_min_labels,
                labels_uri=folder_uri(resources.bucket, config.data.landing_prefix),
                input_format=config.data.input_format,
                id_column=config.dataset.id_column,
                timestamp_column=config.dataset.timestamp_column,
                target_column=config.dataset.target,
                positive_label=config.dataset.positive_label,
                label_delay_windows=config.label_delay_windows,
                capture_uri=folder_uri(resources.bucket, config.data.capture_prefix, endpoint),
            ),
        ),
    )


def training_hyperparameters(
    config: RetrainConfig, given: ExecutionInput, code_uri: str, region: str
) -> dict[str, str]:
    """SageMaker's string map, JSON-encoded value by value exactly as the SageMaker SDK does.

    The training toolkit decodes each value with `json.loads`, so `true` arrives as a bool and
    `"0.1"`-style strings stay strings. Script-mode keys tell the container what to run.
    """
    for key in config.training.hyperparameters:
        if is_reserved_hyperparameter(key):
            raise ConfigError(f"training.hyperparameters.{key}: reserved for the pipeline; remove it")
    for key in given.hyperparameters:
        if is_reserved_hyperparameter(key):
            raise InvalidExecutionInput(
                f"input.hyperparameters.{key}: reserved for the pipeline; remove it. {FIX_EXECUTION_INPUT}"
            )
    values: dict[str, Any] = {**config.training.hyperparameters, **given.hyperparameters}
    values.update(
        sagemaker_program=TRAINING_ENTRY_POINT,
        sagemaker_submit_directory=code_uri,
        sagemaker_container_log_level=CONTAINER_LOG_LEVEL,
        sagemaker_region=region,
        target=config.dataset.target,
    )
    encoded = {key: json.dumps(value) for key, value in values.items()}
    _check_hyperparameter_limits(
        encoded, len(values) - len(config.training.hyperparameters) - len(given.hyperparameters)
    )
    return encoded


# CreateTrainingJob's HyperParameters (botocore `sagemaker/2017-07-24/service-2.json`, shapes
# `HyperParameters`, `HyperParameterKey`, `HyperParameterValue`): at most 100 entries, keys of at most
# 256 characters, values of at most 2500. Refused here, before any job is started.
MAX_HYPERPARAMETERS = 100
MAX_HYPERPARAMETER_KEY = 256
MAX_HYPERPARAMETER_VALUE = 2500


def _check_hyperparameter_limits(encoded: dict[str, str], pipeline_keys: int) -> None:
    if len(encoded) > MAX_HYPERPARAMETERS:
        raise InvalidExecutionInput(
            f"hyperparameters: {len(encoded) - pipeline_keys} given (training.hyperparameters and the input's), "
            f"SageMaker takes at most {MAX_HYPERPARAMETERS} of which the pipeline uses {pipeline_keys}; "
            f"remove some. {FIX_EXECUTION_INPUT}"
        )
    for key, value in encoded.items():
        if len(key) > MAX_HYPERPARAMETER_KEY:
            raise InvalidExecutionInput(
                f"hyperparameters.{key:.40}...: a key of {len(key)} characters, SageMaker takes at most "
                f"{MAX_HYPERPARAMETER_KEY}; shorten it. {FIX_EXECUTION_INPUT}"
            )
        if len(value) > MAX_HYPERPARAMETER_VALUE:
            raise InvalidExecutionInput(
                f"hyperparameters.{key}: a value of {len(value)} characters as JSON, SageMaker takes at most "
                f"{MAX_HYPERPARAMETER_VALUE}; shorten it. {FIX_EXECUTION_INPUT}"
            )


def is_reserved_hyperparameter(key: str) -> bool:
    return key.startswith("sagemaker_") or key == "target"


def _given_or(given: int | None, default: int) -> int:
    """An input value wins even when it is 0 (a zero wait is a valid choice)."""
    return default if given is None else given


def traffic_routing(config: RetrainConfig, kind: str, wait_interval_seconds: int) -> dict[str, Any]:
    """SageMaker's `TrafficRoutingConfiguration` for the blue/green update."""
    deployment = config.deployment
    routing: dict[str, Any] = {"Type": kind, "WaitIntervalInSeconds": wait_interval_seconds}
    if kind == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": deployment.canary_size_percent}
    elif kind == "LINEAR":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": deployment.linear_step_percent}
    return routing


def _start_time(value: str) -> str:
    try:
        return canonical_time(value)
    except ValueError:
        raise InvalidTaskInput(f"event.start_time: expected an ISO 8601 time, got {value!r:.60}") from None
