"""Failure classification: what a Catch hands NotifyFailure, and what the Fail state reports."""

from __future__ import annotations

import json
from typing import Any

import pytest

from retrain import errors
from retrain.errors import DOMAIN_ERROR_NAMES, DOMAIN_ERRORS
from retrain.failure_line import FAILURE_LINE, without_module
from retrain.failures import HINTS, MAX_LINE, classify


def lambda_cause(error_type: str, message: str) -> str:
    return json.dumps(
        {"errorType": error_type, "errorMessage": message, "requestId": "r-1", "stackTrace": ['  File "x"']}
    )


GLUE_RUN = {
    "Id": "jr_42",
    "JobName": "fraud-retrain-prepare",
    "JobRunState": "FAILED",
    "ErrorMessage": "Error Category: UNCLASSIFIED_ERROR; SchemaMismatch: column 'amount' is missing",
}
TRAINING_JOB = {
    "TrainingJobName": "run-1-train-0",
    "TrainingJobStatus": "Failed",
    "FailureReason": (
        "AlgorithmError: ExecuteUserScriptError:\nTraceback (most recent call last):\n"
        '  File "train.py", line 9\nretrain.errors.TrainingScriptFailed: the training split has one class'
    ),
}
PROCESSING_JOB = {
    "ProcessingJobName": "run-1-eval",
    "ProcessingJobStatus": "Failed",
    "ExitMessage": "EvaluationFailed: the champion model at s3://b/m.tar.gz could not be loaded",
}
# As AWS reports it: a generic FailureReason beside the message file's text, here with its newline
# (aws/sagemaker-spark-container test/integration/sagemaker/test_sagemaker_spark_errors.py).
PROCESSING_JOB_ON_AWS = {
    **PROCESSING_JOB,
    "FailureReason": "AlgorithmError: See job logs for more information",
    "ExitMessage": PROCESSING_JOB["ExitMessage"] + "\n",
}

CASES = [
    # id, caught error, expected error, expected first line of the cause
    (
        "glue schema break",
        {"Error": "States.TaskFailed", "Cause": json.dumps(GLUE_RUN)},
        "SchemaMismatch",
        "Glue job fraud-retrain-prepare jr_42 failed: column 'amount' is missing",
    ),
    (
        "training script failure from a traceback",
        {"Error": "States.TaskFailed", "Cause": json.dumps(TRAINING_JOB)},
        "TrainingScriptFailed",
        "Training job run-1-train-0 failed: the training split has one class",
    ),
    (
        "processing job exit message beside a generic failure reason",
        {"Error": "States.TaskFailed", "Cause": json.dumps(PROCESSING_JOB_ON_AWS)},
        "EvaluationFailed",
        "Processing job run-1-eval failed: the champion model at s3://b/m.tar.gz could not be loaded",
    ),
    (
        "processing job exit message",
        {"Error": "States.TaskFailed", "Cause": json.dumps(PROCESSING_JOB)},
        "EvaluationFailed",
        "Processing job run-1-eval failed: the champion model at s3://b/m.tar.gz could not be loaded",
    ),
    (
        "lambda domain error by name",
        {"Error": "EvaluationFailed", "Cause": lambda_cause("EvaluationFailed", "evaluation.json is not JSON")},
        "EvaluationFailed",
        "evaluation.json is not JSON",
    ),
    (
        "lambda domain error hidden behind a generic name",
        {"Error": "Runtime.HandlerError", "Cause": lambda_cause("PipelineStateError", "champion is newer")},
        "PipelineStateError",
        "champion is newer",
    ),
    (
        "an unexpected lambda exception keeps its name",
        {"Error": "KeyError", "Cause": lambda_cause("KeyError", "'Item'")},
        "KeyError",
        "'Item'",
    ),
    (
        "a training job failing for a reason of its own",
        {
            "Error": "States.TaskFailed",
            "Cause": json.dumps({"TrainingJobName": "j", "FailureReason": "CapacityError: no ml.m5.large"}),
        },
        "States.TaskFailed",
        "Training job j failed: CapacityError: no ml.m5.large",
    ),
    (
        "a timeout",
        {"Error": "States.Timeout", "Cause": "State TrainCandidate timed out"},
        "States.Timeout",
        "State TrainCandidate timed out",
    ),
    (
        "a service error",
        {"Error": "SageMaker.ResourceLimitExceededException", "Cause": "limit reached (Service: SageMaker)"},
        "SageMaker.ResourceLimitExceededException",
        "limit reached (Service: SageMaker)",
    ),
    (
        "a domain name in a plain-text cause",
        {"Error": "States.TaskFailed", "Cause": "job failed\nDataQualityError: only 12 rows left"},
        "DataQualityError",
        "only 12 rows left",
    ),
    (
        "a deployment rollback raised by the definition",
        {"Error": "DeploymentRolledBack", "Cause": "Alarm fraud-detector-invocation-errors fired"},
        "DeploymentRolledBack",
        "Alarm fraud-detector-invocation-errors fired",
    ),
    ("nothing caught", None, "States.Runtime", "States.Runtime (no cause given)"),
]


@pytest.mark.parametrize(
    ("caught", "error", "first_line"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_classify(caught: dict[str, Any] | None, error: str, first_line: str) -> None:
    summary = classify(caught)

    lines = summary.cause.splitlines()
    assert summary.error == error
    assert lines[0] == first_line
    assert 1 <= len(lines) <= 2
    assert all(len(line) <= MAX_LINE for line in lines)


def test_a_domain_error_says_how_to_fix_it() -> None:
    summary = classify({"Error": "States.TaskFailed", "Cause": json.dumps(GLUE_RUN)})

    assert summary.cause.splitlines()[1] == HINTS["SchemaMismatch"]


def test_every_domain_error_has_a_hint() -> None:
    assert set(DOMAIN_ERROR_NAMES) <= set(HINTS)


def test_every_error_class_of_the_core_is_a_domain_error() -> None:
    defined = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.RetrainError) and value is not errors.RetrainError
    }
    assert defined == set(DOMAIN_ERRORS)


def test_a_config_error_is_reported_by_name_with_its_fix() -> None:
    summary = classify({"Error": "ConfigError", "Cause": lambda_cause("ConfigError", "TOPIC_ARN is not set")})

    assert summary.error == "ConfigError"
    assert summary.cause.splitlines() == ["TOPIC_ARN is not set", "Fix retrain.toml and deploy again."]


def test_a_long_cause_is_trimmed_to_one_line() -> None:
    summary = classify({"Error": "States.TaskFailed", "Cause": "boom " * 500 + "\n" + "tail"})

    first = summary.cause.splitlines()[0]
    assert len(first) == MAX_LINE and first.endswith("...")
    assert "\n" not in first


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("SchemaMismatch: column a is missing", "SchemaMismatch"),
        ("retrain.errors.DataQualityError: 12 rows", "DataQualityError"),
        ("lowercase: not a class name", None),
        ("NoSpace:after the colon", None),
        ("SchemaMismatch: ", None),
    ],
)
def test_the_failure_line_grammar(line: str, name: str | None) -> None:
    match = FAILURE_LINE.match(line)
    assert (match.group("name") if match else None) == name


def test_readers_drop_the_module_path() -> None:
    assert without_module("retrain.errors.SchemaMismatch: x.y: z") == "SchemaMismatch: x.y: z"
    assert without_module("KeyboardInterrupt") == "KeyboardInterrupt"
    assert without_module("  not an exception line") == "  not an exception line"
