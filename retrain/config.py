"""The project configuration: one `retrain.toml`, typed, with defaults.

Every consumer (the definition builder, the Lambdas, the CDK app, the CLI) reads it through
`load_config`, so a key means the same thing everywhere. Errors are `ConfigError`, whose message is
one line naming the key and what was expected.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from retrain.cadence import HOUR, Cadence, recurring_problem
from retrain.errors import ConfigError
from retrain.schedule import schedule_problem, timezone_problem

DEFAULT_CONFIG_FILE = "retrain.toml"

ColumnType = Literal["string", "long", "double", "boolean", "timestamp"]
Direction = Literal["maximize", "minimize"]
TrafficRouting = Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
Percent = Annotated[int, Field(ge=1, le=100)]
PositiveInt = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]
# The promotion metrics that lie in [0, 1] (jobs/scoring.py); log_loss is unbounded.
BOUNDED_METRICS = ("average_precision", "roc_auc", "brier", "precision", "recall", "f1")


class Section(BaseModel):
    """A config table: unknown keys are errors, values are never coerced across types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PipelineConfig(Section):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")]
    schedule_expression: str = "rate(1 day)"
    schedule_timezone: str = "UTC"

    # A schedule Scheduler refuses passes synth and fails only when CloudFormation creates it.
    @field_validator("schedule_expression")
    @classmethod
    def _schedule_accepted(cls, expression: str) -> str:
        return _unless(schedule_problem(expression), expression)

    @field_validator("schedule_timezone")
    @classmethod
    def _timezone_known(cls, name: str) -> str:
        return _unless(timezone_problem(name), name)


def _unless(problem: str | None, value: str) -> str:
    if problem:
        raise ValueError(problem)
    return value


class DataConfig(Section):
    landing_prefix: str = "landing/"
    processed_prefix: str = "processed/"
    models_prefix: str = "models/"
    capture_prefix: str = "capture/"  # what the endpoint captures of its traffic (Model Monitor's input)
    monitoring_prefix: str = "monitoring/"  # the monitoring schedule's reports, one folder per endpoint
    capture_retention_days: PositiveInt = 90  # captured traffic holds raw requests: not kept forever
    input_format: Literal["csv", "json", "parquet"] = "csv"
    min_new_objects: PositiveInt = 1
    min_new_bytes: Annotated[int, Field(ge=0)] = 1
    wait_for_data_seconds: PositiveInt = 3600
    max_data_checks: PositiveInt = 3
    # A batch of files lands over seconds or minutes, and its first file starts the run: the run waits
    # until nothing landed for this long, so one run trains on the whole batch (0: no wait).
    settle_seconds: Annotated[int, Field(ge=0, le=3600)] = 120
    training_window_days: PositiveInt = 90

    @field_validator("landing_prefix", "processed_prefix", "models_prefix", "capture_prefix", "monitoring_prefix")
    @classmethod
    def _prefix_is_a_folder(cls, prefix: str, info: ValidationInfo) -> str:
        # Keys are listed by prefix and days are the folder after it: "landing" would also count
        # "landing-old/...", "/landing/" matches no key (S3 keys have no leading slash).
        if not prefix.endswith("/") or prefix.startswith("/") or "//" in prefix:
            fixed = "/".join(part for part in prefix.split("/") if part) + "/"
            raise ValueError(
                f"{prefix!r} is not a folder of the bucket; write it without a leading slash and with one "
                f"trailing slash: {info.field_name} = {fixed!r}"
            )
        return prefix

    @model_validator(mode="after")
    def _prefixes_apart(self) -> DataConfig:
        keys = ("landing_prefix", "processed_prefix", "models_prefix", "capture_prefix", "monitoring_prefix")
        prefixes = {key: getattr(self, key) for key in keys}
        for key, prefix in prefixes.items():
            for other, inside in prefixes.items():
                if other != key and inside.startswith(prefix):
                    raise ValueError(
                        f"{other}: {inside!r} lies under {key} {prefix!r}: the pipeline's own files there would "
                        f"count as data; give each prefix a folder of its own"
                    )
        return self


class DatasetConfig(Section):
    target: str
    timestamp_column: str
    id_column: str
    schema_: dict[str, ColumnType] = Field(alias="schema")
    # Identifiers (a customer or account key): kept in the data, never fed to the model, which
    # would only memorise them.
    exclude_columns: list[str] = Field(default_factory=list)
    # Numeric columns also fed as log(1 + x), negatives as 0: feature `log_<column>`.
    log_columns: list[str] = Field(default_factory=list)
    # The target value of the positive class when the target is text; every other value is negative.
    positive_label: str | None = None
    validation_fraction: Fraction = 0.15
    test_fraction: Fraction = 0.15
    # A landed file with a larger share of its rows dropped as malformed (duplicates aside), or a file of
    # another data format than [data].input_format, fails the run with DataQualityError; 1.0 never does.
    max_dropped_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5

    @model_validator(mode="after")
    def _columns_exist(self) -> DatasetConfig:
        for role in ("target", "timestamp_column", "id_column"):
            column = getattr(self, role)
            if column not in self.schema_:
                raise ValueError(f"{role} {column!r} is not a column of dataset.schema")
        if self.schema_[self.timestamp_column] != "timestamp":
            raise ValueError(f"timestamp_column {self.timestamp_column!r} must have type timestamp")
        self._check_target()
        for key in ("exclude_columns", "log_columns"):
            for column in getattr(self, key):
                self._check_feature_column(key, column)
        for column in self.log_columns:
            if self.schema_[column] not in ("long", "double"):
                raise ValueError(f"log_columns: {column!r} is {self.schema_[column]}; only long and double columns")
        if self.validation_fraction + self.test_fraction >= 0.9:
            raise ValueError("validation_fraction + test_fraction must leave at least 10% to train on")
        return self

    def _check_target(self) -> None:
        kind = self.schema_[self.target]
        if kind == "timestamp":
            raise ValueError(f"target {self.target!r} is a timestamp; a target is long (0/1), boolean or string")
        if kind == "string" and self.positive_label is None:
            raise ValueError(
                f"positive_label: missing; the target {self.target!r} is text (string), so set positive_label "
                f'to the value of the positive class, e.g. positive_label = "yes"'
            )
        if kind != "string" and self.positive_label is not None:
            raise ValueError(
                f"positive_label: the target {self.target!r} is {kind}, whose positive class is 1 (or true); "
                f"remove positive_label, or make the target a string"
            )
        if self.positive_label is not None and (
            not self.positive_label or self.positive_label != self.positive_label.strip(" ")
        ):
            raise ValueError(
                f"positive_label: {self.positive_label!r} cannot match a value: values are read without "
                f"surrounding spaces and an empty one is missing"
            )

    def _check_feature_column(self, key: str, column: str) -> None:
        roles = {"target": self.target, "timestamp_column": self.timestamp_column, "id_column": self.id_column}
        if column not in self.schema_:
            raise ValueError(f"{key}: {column!r} is not a column of dataset.schema")
        for role, name in roles.items():
            if column == name:
                raise ValueError(f"{key}: {column!r} is the {role}, never a model input; remove it from {key}")

    @property
    def feature_columns(self) -> list[str]:
        roles = {self.target, self.timestamp_column, self.id_column, *self.exclude_columns}
        return [column for column in self.schema_ if column not in roles]


class Guardrail(Section):
    metric: str
    direction: Direction = "maximize"
    max_regression: Annotated[float, Field(ge=0.0)] = 0.0


class PromotionConfig(Section):
    metric: str
    direction: Direction = "maximize"
    min_absolute_gain: Annotated[float, Field(ge=0.0)] = 0.0
    min_relative_gain: Annotated[float, Field(ge=0.0)] = 0.0
    min_metric_value: float | None = None
    guardrails: list[Guardrail] = Field(default_factory=list)


# The definition's state timeouts are backstops above these job limits (statemachines/policies.py).
MAX_JOB_SECONDS = 86_400


class TrainingConfig(Section):
    framework_version: str = "1.2-1"
    instance_type: str = "ml.m5.large"
    instance_count: PositiveInt = 1
    volume_size_gb: PositiveInt = 10
    max_runtime_seconds: Annotated[int, Field(ge=60, le=MAX_JOB_SECONDS)] = 3600
    hyperparameters: dict[str, str | int | float | bool] = Field(default_factory=dict)


class EvaluationConfig(Section):
    instance_type: str = "ml.m5.large"
    max_runtime_seconds: Annotated[int, Field(ge=60, le=MAX_JOB_SECONDS)] = 1800


class GlueConfig(Section):
    glue_version: Literal["4.0", "5.0"] = "5.0"
    worker_type: str = "G.1X"
    number_of_workers: Annotated[int, Field(ge=2)] = 2
    timeout_minutes: Annotated[int, Field(ge=1, le=MAX_JOB_SECONDS // 60)] = 60


# Glue accepts any 1-255 character name (botocore glue `NameString`) but stores it lower-cased; Athena's DDL
# takes only lowercase letters, digits and underscores, and a name starting with `_` must be quoted
# (Athena user guide, "Name databases, tables, and columns"). One pattern keeps a name the same in all three.
CATALOG_NAME = re.compile(r"[a-z][a-z0-9_]{0,254}")


def catalog_database_name(pipeline_name: str) -> str:
    """The default database: the pipeline's name with `_` for `-` (Athena refuses `-` in DDL names)."""
    return pipeline_name.replace("-", "_")


class CatalogConfig(Section):
    """Where the run's processed data is registered in the Glue Data Catalog (and queried with Athena)."""

    database: str  # default: the pipeline's name with underscores (filled in by RetrainConfig)
    table: str = "processed"

    @field_validator("database", "table")
    @classmethod
    def _name_accepted(cls, name: str) -> str:
        if not CATALOG_NAME.fullmatch(name):
            fixed = re.sub(r"[^a-z0-9_]", "_", name.lower()).lstrip("_0123456789")[:255] or "processed"
            raise ValueError(
                f"{name!r} is not a Glue/Athena name: use lowercase letters, digits and underscores, starting "
                f"with a letter, at most 255 characters (e.g. {fixed!r})"
            )
        return name


class ApprovalConfig(Section):
    timeout_seconds: Annotated[int, Field(ge=60, le=31_536_000)] = 86400


class DeploymentConfig(Section):
    endpoint_name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")]
    instance_type: str = "ml.m5.large"
    # Two instances: one keeps serving while the other fails, and a canary needs a second instance.
    initial_instance_count: PositiveInt = 2
    traffic_routing: TrafficRouting = "CANARY"
    canary_size_percent: Percent = 50
    linear_step_percent: Percent = 50
    wait_interval_seconds: Annotated[int, Field(ge=0, le=3600)] = 300
    termination_wait_seconds: Annotated[int, Field(ge=0, le=3600)] = 120
    maximum_execution_timeout_seconds: Annotated[int, Field(ge=600, le=28800)] = 3600
    alarm_names: Annotated[list[str], Field(min_length=1, max_length=10)]
    error_rate_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    latency_p99_threshold_ms: PositiveInt = 500
    endpoint_poll_seconds: PositiveInt = 60
    max_endpoint_polls: PositiveInt = 120

    @model_validator(mode="after")
    def _rollout_accepted(self) -> DeploymentConfig:
        problem = self.rollout_problem(self.traffic_routing, self.wait_interval_seconds, self.termination_wait_seconds)
        if problem:
            raise ValueError(problem)
        return self

    def rollout_problem(self, routing: str, wait_interval_seconds: int, termination_wait_seconds: int) -> str | None:
        """Why SageMaker's UpdateEndpoint would refuse this rollout, or None (botocore
        `sagemaker/2017-07-24/service-2.json`, `TrafficRoutingConfig` and `BlueGreenUpdatePolicy`)."""
        count = self.initial_instance_count
        if routing in ("CANARY", "LINEAR"):
            key = "canary_size_percent" if routing == "CANARY" else "linear_step_percent"
            percent: int = getattr(self, key)
            low = 0 if routing == "CANARY" else 10
            # Traffic turns on by whole instances: a percent of the variant is rounded up to them.
            instances = math.ceil(round(count * percent / 100, 9))
            if not low <= percent <= 50 or instances * 2 > count:
                fleet = f"initial_instance_count = {count}"
                return (
                    f"{key}: a {percent}% {routing.lower()} step on {fleet} is {instances} instance(s); AWS "
                    f"accepts {low or 1}-50% of the variant's instances; set {key} within that and "
                    f'initial_instance_count = {max(2, count)} or more, or traffic_routing = "ALL_AT_ONCE"'
                )
        waits = wait_interval_seconds + termination_wait_seconds
        if self.maximum_execution_timeout_seconds <= waits:
            return (
                f"maximum_execution_timeout_seconds: {self.maximum_execution_timeout_seconds} s must exceed "
                f"wait_interval_seconds + termination_wait_seconds ({waits} s), as AWS requires; raise it"
            )
        return None


class MonitoringConfig(Section):
    """What the endpoint records of its traffic (SageMaker data capture), for drift and quality checks."""

    # DataCaptureConfig.InitialSamplingPercentage: 0-100 (botocore `SamplingPercentage`).
    capture_sampling_percentage: Annotated[int, Field(ge=0, le=100)] = 100
    # The endpoint's data-quality schedule, (re)pointed at each new champion's baseline on promotion; its
    # ScheduleConfig.ScheduleExpression, which SageMaker limits to a few forms (retrain.cadence). "" = off.
    schedule_expression: str = "cron(0 * ? * * *)"
    # The monitoring job's cluster and time limit (MonitoringResources, StoppingCondition: botocore ranges).
    instance_type: str = "ml.m5.large"
    instance_count: Annotated[int, Field(ge=1, le=100)] = 1
    volume_size_gb: Annotated[int, Field(ge=1, le=16384)] = 20
    max_runtime_seconds: Annotated[int, Field(ge=1, le=86400)] = 1800
    # The drift distance (`feature_baseline_drift_<feature>`) above which a feature's alarm fires and a
    # drift retrain starts; the default is the baseline's comparison_threshold.
    drift_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    # The live value of [promotion] metric (captured predictions joined with the landed labels) below which
    # (above, for a metric to minimize) the quality alarm fires and a `quality` retrain starts; default: the
    # promotion's min_metric_value, the bar a new model must reach.
    quality_threshold: Annotated[float, Field(ge=0.0)] | None = None
    # A window with fewer labelled predictions is not judged (a quiet hour must not start a retrain).
    quality_min_labels: PositiveInt = 100
    # Hours between a prediction and its label's landing: a run judges the predictions of the window that ended
    # this long before its own (Model Monitor's model-quality Start/EndTimeOffset), with the labels landed since.
    label_delay: Annotated[int, Field(ge=0)] = 0

    @field_validator("schedule_expression")
    @classmethod
    def _schedule_accepted(cls, expression: str) -> str:
        if expression == "":
            return expression
        problem = recurring_problem(expression)
        return _unless(f'{problem}; or "" to turn monitoring off' if problem else None, expression)

    @property
    def enabled(self) -> bool:
        return self.schedule_expression != ""


class LocalRunConfig(Section):
    """Run defaults of the stack deployed into the embedded local AWS (`retrain:runDefaults`).

    Production timings (an hour between data checks) would make a laptop cycle take hours; these
    are execution-input fields, which any execution input may still set. The rollout is not among
    them: the local stack deploys `[deployment]`'s waits and one-minute alarms, as AWS runs them,
    and the local AWS runs SageMaker's rollout clocks at its clock scale (`SAGEMAKER_CLOCK_SCALE`).
    """

    wait_for_data_seconds: PositiveInt = 5
    max_data_checks: PositiveInt = 1
    settle_seconds: Annotated[int, Field(ge=0, le=3600)] = 3
    endpoint_poll_seconds: PositiveInt = 1
    max_endpoint_polls: PositiveInt = 300

    def execution_input(self) -> dict[str, int]:
        return self.model_dump()


# Firehose buffering with dynamic partitioning (Amazon Data Firehose developer guide, "Buffer data for
# dynamic partitioning" and "Dynamic partitioning"): zero buffering is not available and the buffer is
# 64-128 MiB; the API bounds the interval at 0-900 s (botocore firehose `IntervalInSeconds`).
STREAM_BUFFER_MB = (64, 128)
STREAM_BUFFER_SECONDS = (60, 900)


class StreamConfig(Section):
    """Streaming ingestion: producers put JSON records into a Kinesis Data Stream; a Firehose delivery
    stream reads it and delivers JSON lines into the landing prefix, one `date=` partition per day of each
    record's own timestamp column (dynamic partitioning). Present in the config: the stack deploys it."""

    # ON_DEMAND scales by itself; PROVISIONED uses shard_count (1 MB/s or 1,000 records/s of writes each).
    capacity_mode: Literal["ON_DEMAND", "PROVISIONED"] = "ON_DEMAND"
    shard_count: Annotated[int, Field(ge=1, le=500)] = 1
    retention_hours: Annotated[int, Field(ge=24, le=8760)] = 24
    buffer_size_mb: int = 64
    buffer_interval_seconds: int = 60
    compression: Literal["UNCOMPRESSED", "GZIP"] = "UNCOMPRESSED"
    # Records Firehose cannot parse or partition (and deliveries that fail) are kept here, never in landing.
    error_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.=-]*(/[A-Za-z0-9_.=-]+)*/$")] = (
        "stream-errors/"
    )
    # The iterator-age alarm fires when the oldest unread record is older than this (Firehose lags).
    max_iterator_age_seconds: Annotated[int, Field(ge=60, le=86_400)] = 900

    @model_validator(mode="after")
    def _buffering_accepted(self) -> StreamConfig:
        for key, (low, high), unit in (
            ("buffer_size_mb", STREAM_BUFFER_MB, "MiB"),
            ("buffer_interval_seconds", STREAM_BUFFER_SECONDS, "s"),
        ):
            value = getattr(self, key)
            if not low <= value <= high:
                raise ValueError(
                    f"{key}: {value} {unit} is outside what Firehose accepts with dynamic partitioning "
                    f"({low}-{high} {unit}); set {key} within that"
                )
        return self


class RetrainConfig(Section):
    pipeline: PipelineConfig
    data: DataConfig = DataConfig()
    dataset: DatasetConfig
    promotion: PromotionConfig
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    glue: GlueConfig = GlueConfig()
    approval: ApprovalConfig = ApprovalConfig()
    catalog: CatalogConfig
    deployment: DeploymentConfig
    monitoring: MonitoringConfig = MonitoringConfig()
    local: LocalRunConfig = LocalRunConfig()
    stream: StreamConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _catalog_defaults(cls, document: Any) -> Any:
        # The database's default derives from the pipeline's name, so two pipelines never share a table.
        if not isinstance(document, dict) or not isinstance(document.get("catalog", {}), dict):
            return document
        pipeline = document.get("pipeline")
        name = pipeline.get("name") if isinstance(pipeline, dict) else getattr(pipeline, "name", None)
        catalog = dict(document.get("catalog", {}))
        if "database" not in catalog and isinstance(name, str):
            catalog["database"] = catalog_database_name(name)
        return {**document, "catalog": catalog}

    @property
    def quality_threshold(self) -> float | None:
        """The quality alarm's threshold on the live promotion metric; None: no quality alarm."""
        given = self.monitoring.quality_threshold
        return given if given is not None else self.promotion.min_metric_value

    @model_validator(mode="after")
    def _quality_threshold_fits(self) -> RetrainConfig:
        threshold = self.monitoring.quality_threshold
        if threshold is not None and self.promotion.metric in BOUNDED_METRICS and threshold > 1.0:
            raise ValueError(
                f"monitoring.quality_threshold: {threshold:g} is above 1, which {self.promotion.metric} never "
                f"exceeds; set a value from 0 to 1 (e.g. the promotion's min_metric_value)"
            )
        return self

    @model_validator(mode="after")
    def _label_delay_fits(self) -> RetrainConfig:
        problem = self.label_delay_problem()
        if problem:
            raise ValueError(f"monitoring.label_delay: {problem}")
        return self

    def label_delay_problem(self) -> str | None:
        """Why the runs could not judge each prediction once, `label_delay` hours after its window: the delay must
        be a whole number of the schedule's (even) periods, and the capture must still be kept by then."""
        monitoring = self.monitoring
        delay = monitoring.label_delay
        if delay == 0 or not monitoring.enabled:
            return None
        cadence = Cadence.parse({"ScheduleExpression": monitoring.schedule_expression})
        period = cadence.longest_gap_seconds // HOUR
        if len(cadence.hours) * period != 24:  # the gaps sum to a day: all equal only then
            return (
                f"{delay} h needs a schedule whose runs are evenly apart, and {monitoring.schedule_expression} is "
                f"not (gaps up to {period} h); use cron(0 H/N ? * * *) with N dividing 24, or label_delay = 0"
            )
        if delay % period:
            return (
                f"{delay} h is not a whole number of the schedule's {period} h periods, so delayed windows would "
                f"overlap or leave gaps; use a multiple of {period}"
            )
        if delay >= self.data.capture_retention_days * 24:
            return (
                f"{delay} h is not less than data.capture_retention_days ({self.data.capture_retention_days} days): "
                "the capture would be expired when judged; lower it or keep the capture longer"
            )
        return None

    @property
    def label_delay_windows(self) -> int:
        """`[monitoring] label_delay` in the schedule's windows (a run's window is one period, on AWS and at the
        local clock scale alike); 0 when monitoring is off."""
        monitoring = self.monitoring
        if monitoring.label_delay == 0 or not monitoring.enabled:
            return 0
        period = Cadence.parse({"ScheduleExpression": monitoring.schedule_expression}).longest_gap_seconds
        return monitoring.label_delay * HOUR // period

    @model_validator(mode="after")
    def _stream_fits_the_data(self) -> RetrainConfig:
        if self.stream is None:
            return self
        if self.data.input_format != "json":
            raise ValueError(
                f"stream: Firehose delivers JSON lines, but [data].input_format is {self.data.input_format!r}; "
                'set input_format = "json" or remove [stream]'
            )
        if self.stream.error_prefix.startswith(self.data.landing_prefix) or self.data.landing_prefix.startswith(
            self.stream.error_prefix
        ):
            raise ValueError(
                f"stream.error_prefix: {self.stream.error_prefix!r} overlaps the landing prefix "
                f"{self.data.landing_prefix!r}, where a bad record would be trained on; choose another prefix"
            )
        return self


_EXPECTED = {
    "missing": "missing; add it",
    "extra_forbidden": "unknown key",
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "dict_type": "expected a table",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
}


_UNION_MEMBERS = {"str", "int", "float", "bool"}


def describe_validation_error(error: ValidationError, source: str) -> str:
    """The first problem of a pydantic error as one line: `source: key.path: what was expected`."""
    first = error.errors()[0]
    # A union reports one error per member type, with the member's name appended to the path.
    parts = [part for part in first["loc"] if part not in _UNION_MEMBERS]
    path = ".".join("schema" if part == "schema_" else str(part) for part in parts)
    kind = first["type"]
    if len(parts) < len(first["loc"]):
        expected = "expected a string, number or boolean"
    elif kind in _EXPECTED:
        expected = _EXPECTED[kind]
    elif kind == "literal_error":
        expected = "expected one of " + first["ctx"]["expected"]
    else:
        expected = first["msg"].removeprefix("Value error, ")
    got = "" if kind in ("missing", "extra_forbidden", "value_error") else f", got {first.get('input')!r}"
    where = f"{path}: " if path else ""
    return f"{source}: {where}{expected}{got}"


def parse_config(document: dict[str, Any], source: str = DEFAULT_CONFIG_FILE) -> RetrainConfig:
    try:
        return RetrainConfig.model_validate(document)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source)) from None


def load_config(path: str | Path = DEFAULT_CONFIG_FILE) -> RetrainConfig:
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; run from the project root or pass --config") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset {error.start}); "
            f"a config is a TOML file saved as UTF-8"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror}); pass --config with a TOML file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse_config(document, source=str(path))
