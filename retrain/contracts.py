"""Typed contracts of what travels between states.

The state machine keeps one document per execution:

    {
      "input":      the execution input, as given
      "run":        RunPlan, written by ValidateInput: every per-run setting, resolved
      "data":       DataCheck, written by CheckForNewData
      "prepared":   the Glue job run (id, state)
      "training":   the training job (name, model artifact)
      "evaluation": the processing job (name, evaluation.json location)
      "decision":   PromotionDecision, written by CompareWithChampion
      "package":    the registered model package (ARN)
      "approval":   Approval, sent back with the task token
      "deployment": endpoint names and its last DescribeEndpoint summary
      "failure":    FailureSummary, written by NotifyFailure
    }

Only S3 URIs, names and small summaries travel (the payload limit is 256 KB).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TrafficRoutingType = Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
NO_CHAMPION = "none"


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the execution input ---------------------------------------------------------------------


MAX_DETAIL_BYTES = 8192


class ExecutionInput(Contract):
    """What a person, the schedule or the new-data rule may pass to StartExecution.

    Every field is optional: defaults come from `retrain.toml`.
    """

    trigger: Literal["manual", "schedule", "new-data", "follow-up", "drift", "quality"] = "manual"
    reason: Annotated[str, Field(max_length=500)] = ""
    requested_by: Annotated[str, Field(max_length=200)] = ""
    hyperparameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    approval_timeout_seconds: Annotated[int, Field(ge=60, le=31_536_000)] | None = None
    traffic_routing: TrafficRoutingType | None = None
    min_new_objects: Annotated[int, Field(ge=1)] | None = None
    wait_for_data_seconds: Annotated[int, Field(ge=1, le=86_400)] | None = None
    max_data_checks: Annotated[int, Field(ge=1, le=100)] | None = None
    settle_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None
    # Rollout timings of this run (SageMaker's limits); defaults are [deployment] of retrain.toml.
    wait_interval_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None
    termination_wait_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None
    endpoint_poll_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    max_endpoint_polls: Annotated[int, Field(ge=1, le=10_000)] | None = None
    # S3 → EventBridge events carry the object that arrived; kept for the record only.
    detail: dict[str, Any] | None = None

    @field_validator("reason")
    @classmethod
    def _one_line(cls, reason: str) -> str:
        # One line: it goes into messages and the model package's description, which allows no line breaks.
        return " ".join(reason.split())

    @field_validator("detail")
    @classmethod
    def _bounded_detail(cls, detail: dict[str, Any] | None) -> dict[str, Any] | None:
        # The whole input travels in every state's input, which Step Functions bounds at 256 KB
        # (States.DataLimitExceeded, which no Catch takes): a record must not come near it.
        size = len(json.dumps(detail).encode())
        if size > MAX_DETAIL_BYTES:
            raise ValueError(f"{size} bytes as JSON, at most {MAX_DETAIL_BYTES} (an S3 event's detail is about 1 KB)")
        return detail


# --- what the definition passes to ValidateInput ---------------------------------------------


class Resources(Contract):
    """Names of deployed resources, filled into the definition by `DefinitionSubstitutions`."""

    bucket: str
    state_table: str
    sagemaker_role_arn: str
    image_uri: str
    training_code_uri: str
    model_package_group: str
    endpoint_name: str
    code_version: str


class ValidateInputEvent(Contract):
    execution_name: str
    execution_id: str
    start_time: str
    input: dict[str, Any]
    resources: Resources


# --- RunPlan: every per-run setting, resolved by ValidateInput --------------------------------


class RunNames(Contract):
    """Names derived from the execution name: the same execution always gets the same names."""

    base: str  # <= 40 chars, [a-zA-Z0-9-]
    training_job_prefix: str
    processing_job_prefix: str
    model: str
    endpoint_config: str


class DataPlan(Contract):
    landing_uri: str  # s3://bucket/landing/
    processed_uri: str  # s3://bucket/processed/<base>/
    models_uri: str  # s3://bucket/models/<base>/
    input_format: str
    min_new_objects: int
    min_new_bytes: int
    wait_for_data_seconds: int
    max_data_checks: int
    training_window_days: int
    # Data that landed less than this long ago is still arriving: the run waits for it to settle (0: never).
    settle_seconds: int = 0
    # s3://bucket/<[stream].error_prefix>: where the delivery stream keeps records it refused ("" without [stream])
    delivery_errors_uri: str = ""


class TrainingPlan(Contract):
    image_uri: str
    role_arn: str
    instance_type: str
    instance_count: int
    volume_size_gb: int
    max_runtime_seconds: int
    hyperparameters: dict[str, str]  # SageMaker's string map, script-mode keys included
    code_uri: str  # sourcedir.tar.gz of jobs/: training, evaluation and serving code
    output_uri: str  # no trailing slash: SageMaker appends /<job>/output/model.tar.gz


class EvaluationPlan(Contract):
    instance_type: str
    max_runtime_seconds: int
    output_uri: str  # no trailing slash; evaluation.json and the report land here
    champion_model_uri: str  # NO_CHAMPION when there is none


class MonitoringPlan(Contract):
    """The endpoint's data-quality schedule, against this run's baseline (docs/monitoring.md)."""

    schedule_name: str
    schedule_config: dict[str, Any]  # SageMaker's MonitoringScheduleConfig, as sent


class DeploymentPlan(Contract):
    endpoint_name: str
    instance_type: str
    initial_instance_count: int
    traffic_routing: dict[str, Any]  # SageMaker's TrafficRoutingConfiguration, as sent
    termination_wait_seconds: int
    maximum_execution_timeout_seconds: int
    alarms: list[dict[str, str]]  # [{"AlarmName": ...}]
    data_capture: dict[str, Any]  # SageMaker's DataCaptureConfig, as sent
    monitoring: MonitoringPlan | None  # None: [monitoring] schedule_expression = "" (off)
    poll_seconds: int
    max_polls: int


class RunPlan(Contract):
    pipeline: str
    execution_name: str
    trigger: str
    reason: str
    requested_by: str
    started_at: str
    code_version: str
    bucket: str
    state_table: str
    names: RunNames
    data: DataPlan
    dataset_json: str  # the dataset config as JSON text, the Glue job's --dataset argument
    training: TrainingPlan
    evaluation: EvaluationPlan
    approval_timeout_seconds: int
    model_package_group: str
    deployment: DeploymentPlan


# --- CheckForNewData ---------------------------------------------------------------------------


class CheckForNewDataEvent(Contract):
    run: RunPlan
    checks_done: int = 0
    settle_checks_done: int = 0


class Champion(Contract):
    model_data_url: str
    model_package_arn: str
    model_name: str
    endpoint_config_name: str
    execution_name: str
    promoted_at: str
    metrics: dict[str, float] = Field(default_factory=dict)


class DeliveryErrors(Contract):
    """Records the delivery stream refused (kept under its error prefix) in this run's arrival window
    (after, until]: see `retrain.delivery_errors`. Without [stream] nothing is counted."""

    error_prefix_uri: str = ""
    after: str = ""  # exclusive: the mark the last run that succeeded or kept the champion left ("" = none)
    until: str = ""  # inclusive: the run's start, or the newest object counted when the window was cut
    records: int = 0
    objects: int = 0
    by_type: dict[str, int] = Field(default_factory=dict)  # Firehose's error-output-type -> records
    keys: list[str] = Field(default_factory=list)  # the first objects' keys (bounded)


class DataCheck(Contract):
    enough: bool
    keep_waiting: bool
    checks_done: int
    new_objects: int
    new_bytes: int
    previous_watermark: str  # the last landing key trained on ("" before the first run)
    new_watermark: str  # the newest landing key of this window
    window_start: str  # date of the first new partition, ISO
    window_end: str  # date of the last new partition, ISO
    champion_model_uri: str  # NO_CHAMPION when there is none
    delivery_errors: DeliveryErrors = Field(default_factory=DeliveryErrors)
    settling: bool = False  # enough data, but some landed within settle_seconds: wait and look again
    settle_checks_done: int = 0
    last_landed_at: str = ""  # LastModified of the newest new object (UTC ISO), "" without one


# --- CompareWithChampion -----------------------------------------------------------------------


class CompareWithChampionEvent(Contract):
    run: RunPlan
    evaluation_uri: str  # s3://.../evaluation.json


class PromotionDecision(Contract):
    promote: bool
    metric: str
    candidate: dict[str, float]
    champion: dict[str, float] | None
    reasons: list[str]
    report_uri: str


# --- RequestApproval / approval callback -------------------------------------------------------


class RequestApprovalEvent(Contract):
    task_token: str
    run: RunPlan
    decision: PromotionDecision
    model_package_arn: str
    execution_arn: str
    redrive_count: int = Field(default=0, ge=0)  # $$.Execution.RedriveCount


class Approval(Contract):
    """What `SendTaskSuccess` carries back: who approved and why."""

    approved_by: str
    reason: str
    approved_at: str


# --- PromoteChampion / Notify -----------------------------------------------------------------


class PromoteChampionEvent(Contract):
    run: RunPlan
    data: DataCheck
    model_package_arn: str
    model_data_url: str
    decision: PromotionDecision
    approval: Approval


class NotifyEvent(Contract):
    kind: Literal["success", "failure", "kept", "rejected"]
    run: RunPlan | None = None
    execution_arn: str
    error: dict[str, Any] | None = None  # {"Error": ..., "Cause": ...} from a Catch
    decision: PromotionDecision | None = None


class NotifyResult(Contract):
    message_id: str
    error: str = ""  # for kind "failure": the classified error (see FailureSummary)
    cause: str = ""


class FailureSummary(Contract):
    error: str  # a domain error name when one can be recovered, else the Step Functions error
    cause: str  # one or two lines: what broke and how to fix it
