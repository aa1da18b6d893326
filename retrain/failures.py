"""Turn what a Catch caught (`{"Error": ..., "Cause": ...}`) into a named error and a useful cause.

Step Functions reports a failed job as `States.TaskFailed` with the job's description as the cause;
jobs print `<DomainError>: <message>` as their failure line (`retrain.failure_line`, with the names of
`retrain.errors`), so the domain name is recovered from there:

- a Lambda: the error is the exception class; the cause is `{"errorType", "errorMessage", ...}`;
- a Glue job run (`.sync`): the cause is the JobRun, whose `ErrorMessage` names the error;
- a SageMaker training or processing job (`.sync`): the cause is its description, whose
  `FailureReason` (training) or `ExitMessage` (processing, whose `FailureReason` is generic) holds the
  script's last error line.

The result's cause is one line saying what broke, and one saying how to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from retrain import errors
from retrain.contracts import FailureSummary
from retrain.failure_line import last_named_failure, named_failure_pattern

MAX_LINE = 400  # characters of each cause line: enough for a message, short enough for a Fail state

_DOMAIN_NAMES = errors.DOMAIN_ERROR_NAMES
# A domain error's failure line (`retrain.failure_line`) anywhere in a reported reason.
_DOMAIN_LINE = named_failure_pattern(_DOMAIN_NAMES)

# How to fix each error; every domain error has one (a unit test checks).
_DOMAIN_HINTS: dict[type[errors.RetrainError], str] = {
    errors.InvalidExecutionInput: "Fix the execution input and start a new execution.",
    errors.InvalidTaskInput: "The definition and a Lambda function disagree on an event: deploy both from "
    "the same version, then redrive.",
    errors.ConfigError: "Fix retrain.toml and deploy again.",
    errors.InvalidJobArguments: "The definition and a job script disagree on arguments: deploy both from the "
    "same version, then start a new execution.",
    errors.SchemaMismatch: "Fix the landing data or [dataset.schema] in retrain.toml, then start a new execution.",
    errors.DataQualityError: "Check this window's landing partitions for duplicate and malformed rows, "
    "or land more data, then start a new execution.",
    errors.TrainingScriptFailed: "Read the training job's log (/aws/sagemaker/TrainingJobs), fix the training "
    "code or the hyperparameters, then start a new execution.",
    errors.EvaluationFailed: "Read the evaluation job's log (/aws/sagemaker/ProcessingJobs), fix the "
    "evaluation code, then start a new execution.",
    errors.ApprovalRejected: "Production was not touched; address the reviewer's reason before retraining.",
    errors.InvalidApprovalOutput: "Approve with `retrain approve` (it sends approved_by, reason and approved_at), "
    "then start a new execution.",
    errors.DeploymentRolledBack: "The champion still serves: check the alarms that fired and the candidate's "
    "endpoint logs before retraining.",
    errors.EndpointDeploymentFailed: "Read the endpoint's failure reason (DescribeEndpoint); fix the model or "
    "the endpoint configuration, then start a new execution.",
    errors.PipelineStateError: "Compare the state table's WATERMARK, CHAMPION and APPROVAL items with the model "
    "registry and the endpoint, correct them, then start a new execution.",
}
_STATES_HINTS = {
    "States.Timeout": "A state ran past its timeout: raise it in retrain.toml if the work is legitimately "
    "slow, else find the stuck job in the execution's event history.",
    "States.HeartbeatTimeout": "A task stopped sending heartbeats: find it in the execution's event history.",
    "States.DataLimitExceeded": "A state's output passed 256 KB: trim it with ResultSelector/ResultPath.",
    "States.Runtime": "The definition read a field that was not there: check the failed state's input "
    "in the execution's event history.",
    "States.Permissions": "The state machine's role lacks a permission: add it to the stack.",
}
HINTS = {error.__name__: hint for error, hint in _DOMAIN_HINTS.items()} | _STATES_HINTS
GENERIC_HINT = "See the failed state in the execution's event history."


def classify(error: Mapping[str, Any] | None) -> FailureSummary:
    """A domain error name and a cause with a fix, or the Step Functions error and its trimmed cause."""
    error = error or {}
    name = str(error.get("Error") or "States.Runtime")
    raw_cause = error.get("Cause")
    cause = raw_cause if isinstance(raw_cause, str) else json.dumps(raw_cause) if raw_cause else ""
    described = _parse_json(cause)
    where, message = _describe(described, cause)
    if name in _DOMAIN_NAMES:
        domain: str | None = name
        match = _last_domain_line(message)
        if match and match[0] == name:
            message = match[1]
    else:
        found = _last_domain_line(message) or _last_domain_line(cause)
        lambda_type = described.get("errorType") if described else None
        if isinstance(lambda_type, str) and lambda_type in _DOMAIN_NAMES:
            domain = lambda_type
        elif found:
            domain, message = found
        else:
            domain = None
    final = domain or name
    first = _line(f"{where}: {message}" if where else message) or f"{final} (no cause given)"
    hint = HINTS.get(final) or _service_hint(name) or GENERIC_HINT
    lines = [first] if hint.rstrip(".") in first else [first, hint]
    return FailureSummary(error=final, cause="\n".join(lines))


def _describe(described: dict[str, Any] | None, cause: str) -> tuple[str, str]:
    """Where it failed (a job, or "" for a Lambda) and the failure message."""
    if described is None:
        return "", cause
    if "errorMessage" in described:  # a Lambda function's error
        return "", str(described.get("errorMessage") or described.get("errorType") or "")
    for kind, name_key in (("Training job", "TrainingJobName"), ("Processing job", "ProcessingJobName")):
        if name_key in described:
            # A processing job's FailureReason is generic on AWS; its script's failure line is in ExitMessage.
            reasons = [str(described[key]) for key in ("FailureReason", "ExitMessage") if described.get(key)]
            named = [reason for reason in reasons if _last_domain_line(reason)]
            return f"{kind} {described[name_key]} failed", (named or reasons or ["no failure reason"])[0]
    if "JobRunState" in described or "ErrorMessage" in described:  # a Glue JobRun
        job = " ".join(str(described[key]) for key in ("JobName", "Id") if described.get(key))
        state = str(described.get("JobRunState", "FAILED")).lower()
        return f"Glue job {job} {state}".replace("  ", " "), str(described.get("ErrorMessage") or "")
    return "", cause


def _last_domain_line(text: str) -> tuple[str, str] | None:
    return last_named_failure(text, _DOMAIN_LINE)


def _parse_json(text: str) -> dict[str, Any] | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _service_hint(name: str) -> str | None:
    service, _, code = name.partition(".")
    if service in ("SageMaker", "Glue", "Lambda", "DynamoDB", "SNS", "S3") and code:
        return f"The {service} API refused the request ({code}): see the failed state's event history."
    return None


def _line(text: str) -> str:
    """The text on one line, cut to MAX_LINE characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_LINE else flat[: MAX_LINE - 3] + "..."
