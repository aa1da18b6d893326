"""The monitoring job's container as a monitoring schedule names it, the same on AWS and locally.

A `MonitoringJobDefinition` has no code input (API reference, `MonitoringInputs`: an endpoint or a batch
transform only), so the scikit-learn image cannot be handed `jobs/monitor.py` as a processing job is: its
entry point fetches the jobs' `sourcedir.tar.gz` (the one training and evaluation use) with the image's boto3
under the schedule's role, unpacks it and runs the script as `__main__`, which then reads Model Monitor's
container contract from its environment.

The pipeline keeps one data-quality schedule per endpoint (`monitoring_schedule_name`), whose definition
(`monitoring_schedule_config`) each promotion points at the new champion's baseline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MONITOR_SCRIPT = "monitor.py"
ENDPOINT_DATA = "/opt/ml/processing/endpointdata"
RESULT_DATA = "/opt/ml/processing/resultdata"

# `python3 -c BOOTSTRAP <sourcedir.tar.gz URI> <script>` (sys.argv is ['-c', uri, script]); compact because
# botocore limits each ContainerEntrypoint member to 256 characters.
BOOTSTRAP = (
    "import runpy,sys,tarfile,tempfile,boto3;_,u,s=sys.argv;b,k=u[5:].split('/',1);d=tempfile.mkdtemp()+'/';"
    "boto3.client('s3').download_file(b,k,d+'c');tarfile.open(d+'c').extractall(d);"
    "sys.path[:0]=[d];sys.argv=[s];runpy.run_path(d+s,run_name='__main__')"
)


def monitoring_app_specification(image_uri: str, sourcedir_uri: str, script: str = MONITOR_SCRIPT) -> dict[str, object]:
    """`MonitoringAppSpecification` of the project's monitoring job in the framework image `image_uri`."""
    if not sourcedir_uri.startswith("s3://") or "/" not in sourcedir_uri[len("s3://") :]:
        raise ValueError(f"{sourcedir_uri!r} is not an s3://bucket/key URI of the jobs' sourcedir.tar.gz")
    return {
        "ImageUri": image_uri,
        "ContainerEntrypoint": ["python3", "-c", BOOTSTRAP],
        "ContainerArguments": [sourcedir_uri, script],
    }


# MonitoringScheduleName (botocore): at most 63 characters, `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`, as an endpoint's.
MAX_SCHEDULE_NAME = 63
SCHEDULE_SUFFIX = "-data-quality"


def monitoring_schedule_name(endpoint_name: str) -> str:
    """The endpoint's data-quality schedule; a long endpoint name is cut so the whole fits SageMaker's limit."""
    return endpoint_name[: MAX_SCHEDULE_NAME - len(SCHEDULE_SUFFIX)].rstrip("-") + SCHEDULE_SUFFIX


# The monitoring job's variable naming the request's CSV columns, in order (MonitoringJobDefinition
# Environment: values of at most 256 characters, botocore `ProcessingEnvironmentValue`).
REQUEST_COLUMNS_ENV = "request_columns"
MAX_ENVIRONMENT_VALUE = 256


def request_columns_value(columns: Sequence[str]) -> str:
    """`columns` as the job's `request_columns` value; a ValueError naming the fix when it is too long."""
    value = ",".join(columns)
    if len(value) > MAX_ENVIRONMENT_VALUE:
        raise ValueError(
            f"the request's columns ({len(columns)}, {len(value)} characters with commas) do not fit the "
            f"monitoring job's environment ({MAX_ENVIRONMENT_VALUE} characters); shorten the column names or "
            'turn monitoring off ([monitoring] schedule_expression = "")'
        )
    return value


def quality_environment(
    *,
    metric: str,
    min_labels: int,
    labels_uri: str,
    input_format: str,
    id_column: str,
    timestamp_column: str,
    target_column: str,
    positive_label: str | None,
    label_delay_windows: int = 0,
    capture_uri: str = "",
) -> dict[str, str]:
    """The monitoring job's Environment that turns live quality on (`jobs/monitor.py`): the promotion metric,
    the minimum of labelled predictions, where the labels land and how a landed row names its id and label.

    With `label_delay_windows` it judges the predictions of the window that many windows before its own, which
    it reads itself from the endpoint's capture (`capture_uri`, `s3://bucket/<capture prefix><endpoint>/`):
    the platform stages the run's own window only."""
    environment = {
        "quality_metric": metric,
        "quality_min_labels": str(min_labels),
        "quality_labels": labels_uri,
        "quality_input_format": input_format,
        "id_column": id_column,
        "timestamp_column": timestamp_column,
        "target_column": target_column,
    }
    if positive_label is not None:
        environment["positive_label"] = positive_label
    if label_delay_windows:
        if not capture_uri.startswith("s3://") or not capture_uri.endswith("/"):
            raise ValueError(f"{capture_uri!r} is not the s3://bucket/prefix/ folder of the endpoint's capture")
        environment["quality_label_delay_windows"] = str(label_delay_windows)
        environment["quality_capture"] = capture_uri
    for name, value in environment.items():
        if len(value) > MAX_ENVIRONMENT_VALUE:
            raise ValueError(
                f"the monitoring job's {name} ({len(value)} characters) does not fit its environment "
                f"({MAX_ENVIRONMENT_VALUE} characters); shorten it"
            )
    return environment


def monitoring_schedule_config(
    *,
    endpoint_name: str,
    schedule_expression: str,
    baseline_uri: str,
    output_uri: str,
    app_specification: dict[str, object],
    role_arn: str,
    cluster: dict[str, int | str],
    max_runtime_seconds: int,
    request_columns: Sequence[str] = (),
    quality: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`MonitoringScheduleConfig` of CreateMonitoringSchedule and UpdateMonitoringSchedule (the same shape).

    `baseline_uri` is the folder holding a model's `constraints.json` and `statistics.json`; the reports of
    each run go under `output_uri` (SageMaker appends yyyy/mm/dd/hh/). `cluster` is the ClusterConfig.
    `request_columns` are the CSV columns of a request, in order (the endpoint's input: the schema's columns
    but the target), from which the job picks the baseline's; without them it reads a request as the
    baseline's columns alone. `quality` (`quality_environment`) also has it judge the live model quality.
    """
    definition: dict[str, Any] = {
        "ScheduleConfig": {"ScheduleExpression": schedule_expression},
        "MonitoringType": "DataQuality",
        "MonitoringJobDefinition": {
            "BaselineConfig": {
                "ConstraintsResource": {"S3Uri": f"{baseline_uri}/constraints.json"},
                "StatisticsResource": {"S3Uri": f"{baseline_uri}/statistics.json"},
            },
            "MonitoringInputs": [{"EndpointInput": {"EndpointName": endpoint_name, "LocalPath": ENDPOINT_DATA}}],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [{"S3Output": {"S3Uri": output_uri, "LocalPath": RESULT_DATA}}]
            },
            "MonitoringResources": {"ClusterConfig": cluster},
            "MonitoringAppSpecification": app_specification,
            "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_seconds},
            "RoleArn": role_arn,
        },
    }
    environment = dict(quality or {})
    if request_columns:
        environment[REQUEST_COLUMNS_ENV] = request_columns_value(request_columns)
    if environment:
        definition["MonitoringJobDefinition"]["Environment"] = environment
    return definition
