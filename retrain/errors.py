"""Domain errors. A class name here is exactly what the state machine's `ErrorEquals` names.

A Lambda that raises one of these reaches Step Functions with the class name as its error type,
so Retry never retries them and Catch routes them by name. Jobs (Glue, SageMaker) cannot raise
into Step Functions; they print `<ClassName>: <message>` as their failure reason and
`retrain.failures` recovers the name from the cause.
"""

from __future__ import annotations


class RetrainError(Exception):
    """Base of every domain error: a message that names the problem and how to fix it."""


class ConfigError(RetrainError):
    """`retrain.toml` is missing, not TOML, or has a wrong, unknown or missing key."""


class InvalidExecutionInput(RetrainError):
    """The execution input does not match the input model; the message names the field."""


class InvalidTaskInput(RetrainError):
    """A Lambda received an event that does not match its model (a definition/handler mismatch)."""


class InvalidJobArguments(RetrainError):
    """A job (Glue, SageMaker) was started with arguments it cannot use (a definition/job mismatch)."""


class SchemaMismatch(RetrainError):
    """Landing data lacks a configured column or has it with another type."""


class DataQualityError(RetrainError):
    """Too few usable rows remain after removing duplicates and malformed rows."""


class TrainingScriptFailed(RetrainError):
    """The training entry point exited with an error."""


class EvaluationFailed(RetrainError):
    """The evaluation job failed or wrote an `evaluation.json` that is missing or malformed."""


class ApprovalRejected(RetrainError):
    """An ML lead rejected the candidate; production was not touched."""


class InvalidApprovalOutput(RetrainError):
    """The output sent with SendTaskSuccess lacks the approval's fields; the candidate is rejected."""


class DeploymentRolledBack(RetrainError):
    """The blue/green update tripped an alarm and SageMaker returned traffic to the champion."""


class EndpointDeploymentFailed(RetrainError):
    """The endpoint could not be created or updated (not a rollback)."""


class PipelineStateError(RetrainError):
    """The pipeline's own records (watermark, champion, approvals) are inconsistent."""


# Error names that the definition treats as final: never retried, always reported by name. This is
# the one list (`retrain.failures` classifies by it) and it holds every class above. ConfigError is
# one: ValidateInput, RequestApproval and Notify raise it uncaught when retrain.toml or a setting the
# stack gives them is wrong, and the same call would meet the same config again, so a retry cannot help.
DOMAIN_ERRORS: tuple[type[RetrainError], ...] = (
    ConfigError,
    InvalidExecutionInput,
    InvalidTaskInput,
    InvalidJobArguments,
    SchemaMismatch,
    DataQualityError,
    TrainingScriptFailed,
    EvaluationFailed,
    ApprovalRejected,
    InvalidApprovalOutput,
    DeploymentRolledBack,
    EndpointDeploymentFailed,
    PipelineStateError,
)

DOMAIN_ERROR_NAMES: tuple[str, ...] = tuple(error.__name__ for error in DOMAIN_ERRORS)
