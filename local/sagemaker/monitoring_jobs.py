"""One monitoring execution: the processing job a schedule starts, as Model Monitor starts it.

SageMaker runs a schedule's `MonitoringJobDefinition` as a processing job ("Support for Your Own Containers
With Amazon SageMaker Model Monitor", model-monitor-byoc-containers): the endpoint's captured data of the
window staged at the `EndpointInput`'s `LocalPath` as `<endpoint>/<variant>/yyyy/mm/dd/hh/` (whole hours: more
than the window, which the container filters), the baseline files staged and named by `baseline_constraints`
and `baseline_statistics`, the container contract's variables in its environment ("Container Contract
Inputs", model-monitor-byoc-contract-inputs), its `output_path` uploaded to the `MonitoringOutput`'s S3 URI
under the run's `yyyy/mm/dd/hh`, and the metrics files it wrote under `/opt/ml/output/metrics/cloudwatch`
published to CloudWatch ("CloudWatch Metrics for Bring Your Own Containers", model-monitor-byoc-cloudwatch)
in the namespace of Model Monitor's data-quality metrics of an endpoint, `aws/sagemaker/Endpoints/data-metrics`
(the name the built-in container publishes under; the BYOC page spells a default `/aws/sagemaker/Endpoint/
data-metrics`, which the pipeline does not use).

The execution's status follows the processing job: `Completed`, or `CompletedWithViolations` when the
container's `/opt/ml/output/message` (the job's `ExitMessage`) says so, as the BYOC samples write it; a failed
job is a `Failed` execution whose `FailureReason` is the container's message (else the job's reason).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.runtime.staging import S3Location, S3Staging, StagingError
from local.sagemaker.arns import sagemaker_arn
from local.sagemaker.processing import ProcessingJobRunner
from local.sagemaker.store import Record, StateStore

logger = logging.getLogger("local.sagemaker")

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
BASELINE_ROOT = "/opt/ml/processing/baseline"
METRICS_DIR = "output/metrics/cloudwatch"
NO_DATA = "Job inputs had no data"
CAPTURE_FORMAT = json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}})
_PUT_LIMIT = 1000  # PutMetricData's datums per call


def iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hour_path(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y/%m/%d/%H")


class ExecutionRefused(Exception):
    """The execution cannot start; its message is the execution's FailureReason."""


def capture_hours(staging: S3Staging, destination: str, endpoint: str, start: float, end: float) -> list[str]:
    """The `<endpoint>/<variant>/yyyy/mm/dd/hh` folders under the capture destination that overlap [start, end)."""
    location = S3Location.parse(destination.rstrip("/") + f"/{endpoint}/")
    try:
        keys = staging.keys_under(location)
    except StagingError:
        return []
    folders: set[str] = set()
    for key in keys:
        parts = key[len(location.key) :].split("/")
        if len(parts) < 6:
            continue
        try:
            year, month, day, hour_of_day = (int(part) for part in parts[1:5])
            hour = dt.datetime(year, month, day, hour_of_day, tzinfo=dt.UTC).timestamp()
        except ValueError:
            continue
        if hour < end and hour + 3600 > start:
            folders.add(f"{endpoint}/" + "/".join(parts[:5]))
    return sorted(folders)


def capture_destination(store: StateStore, endpoint: str) -> str:
    record = store.get("Endpoint", endpoint)
    if record is None:
        raise ExecutionRefused(f"ClientError: the endpoint {endpoint} does not exist")
    config = store.get("EndpointConfig", record.get("EndpointConfigName", "")) or {}
    capture = config.get("DataCaptureConfig") or {}
    if not capture or capture.get("EnableCapture") is False:
        raise ExecutionRefused(f"ClientError: the endpoint {endpoint} does not capture its data (DataCaptureConfig)")
    return str(capture["DestinationS3Uri"])


def processing_request(
    schedule: Record, staging: S3Staging, store: StateStore, run: float, window: tuple[float, float]
) -> Record:
    """The processing job of a run of `schedule` at `run` over `window` (this machine's clock)."""
    definition = schedule["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
    endpoint_input = definition["MonitoringInputs"][0]["EndpointInput"]
    endpoint, local_path = endpoint_input["EndpointName"], endpoint_input["LocalPath"].rstrip("/")
    destination = capture_destination(store, endpoint)
    hours = capture_hours(staging, destination, endpoint, *window)
    if not hours:
        raise ExecutionRefused(NO_DATA)
    inputs: list[dict[str, Any]] = [
        {
            "InputName": f"endpointdata-{index}",
            "S3Input": {
                "S3Uri": f"{destination.rstrip('/')}/{folder}",
                "LocalPath": f"{local_path}/{folder}",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        }
        for index, folder in enumerate(hours)
    ]
    output = definition["MonitoringOutputConfig"]["MonitoringOutputs"][0]["S3Output"]
    environment = {
        **(definition.get("Environment") or {}),
        "dataset_format": CAPTURE_FORMAT,
        "dataset_source": local_path,
        "output_path": output["LocalPath"],
        "start_time": iso(window[0]),
        "end_time": iso(window[1]),
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": endpoint,
        "sagemaker_monitoring_schedule_name": schedule["MonitoringScheduleName"],
        "sagemaker_endpoint_datacapture_prefix": destination,
    }
    baseline = definition.get("BaselineConfig") or {}
    for kind, resource, folder in (
        ("constraints", "ConstraintsResource", "constraints"),
        ("statistics", "StatisticsResource", "stats"),
    ):
        uri = (baseline.get(resource) or {}).get("S3Uri")
        if uri:
            inputs.append(
                {
                    "InputName": f"baseline-{kind}",
                    "S3Input": {"S3Uri": uri, "LocalPath": f"{BASELINE_ROOT}/{folder}", "S3DataType": "S3Prefix"},
                }
            )
            environment[f"baseline_{kind}"] = f"{BASELINE_ROOT}/{folder}/{uri.rstrip('/').rsplit('/', 1)[-1]}"
    app = definition["MonitoringAppSpecification"]
    stamp = dt.datetime.fromtimestamp(run, dt.UTC).strftime("%Y%m%d%H%M")
    name = f"model-monitoring-{stamp}-{uuid.uuid4().hex[:24]}"
    region, account = schedule["_Region"], schedule["_Account"]
    return {
        "ProcessingJobName": name,
        "ProcessingJobArn": sagemaker_arn("processing-job", name, region, account),
        "ProcessingJobStatus": "InProgress",
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "result",
                    "S3Output": {
                        "S3Uri": f"{output['S3Uri'].rstrip('/')}/{_hour_path(run)}",
                        "LocalPath": output["LocalPath"],
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": {"ClusterConfig": definition["MonitoringResources"]["ClusterConfig"]},
        "StoppingCondition": definition.get("StoppingCondition") or {"MaxRuntimeInSeconds": 3600},
        "AppSpecification": {
            key: app[key] for key in ("ImageUri", "ContainerEntrypoint", "ContainerArguments") if key in app
        },
        "Environment": environment,
        "RoleArn": definition["RoleArn"],
        "MonitoringScheduleArn": schedule["MonitoringScheduleArn"],
        "_Region": region,
        "_Account": account,
    }


def metric_data(folder: Path) -> list[dict[str, Any]]:
    """The datums of the container's metrics files, one JSON object a line."""
    data: list[dict[str, Any]] = []
    if not folder.is_dir():
        return data
    for path in sorted(item for item in folder.rglob("*") if item.is_file()):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                datum = json.loads(line)
            except ValueError:
                raise ValueError(
                    f"ClientError: {path.name} line {number} of the CloudWatch metrics is not JSON"
                ) from None
            if not isinstance(datum, dict) or "MetricName" not in datum or "Timestamp" not in datum:
                raise ValueError(f"ClientError: {path.name} line {number} has no MetricName or Timestamp")
            if ("Value" in datum) == ("StatisticValues" in datum):
                raise ValueError(f"ClientError: {path.name} line {number} needs either Value or StatisticValues")
            data.append(datum)
    return data


class MonitoringJobRunner(ProcessingJobRunner):
    """A processing job of a monitoring schedule; `on_finish(job_name, status, fields, container_root)`."""

    def __init__(
        self, name: str, store: StateStore, context: Any, on_finish: Callable[[str, str, dict[str, Any], Path], None]
    ) -> None:
        super().__init__(name, store, context)
        self._on_finish = on_finish

    def _finish(self, status: str, **fields: Any) -> None:
        super()._finish(status, **fields)
        root = self._context.state_dir / "work" / self.FOLDER / self.name / "opt" / "ml"
        try:
            self._on_finish(self.name, status, fields, root)
        except Exception:  # the job is over whatever happens to its execution record
            logger.exception("monitoring execution %s could not be concluded", self.name)


def execution_outcome(status: str, fields: dict[str, Any]) -> tuple[str, str | None]:
    """(MonitoringExecutionStatus, FailureReason) of a finished processing job."""
    message = str(fields.get("ExitMessage") or "")
    if status == "Completed":
        return ("CompletedWithViolations" if message.startswith("CompletedWithViolations") else "Completed"), None
    if status == "Stopped":
        return "Stopped", None
    return "Failed", (message or str(fields.get("FailureReason") or "InternalServerError"))[:1024]


def publish_metrics(cloudwatch: Any, root: Path) -> int:
    data = metric_data(root / METRICS_DIR)
    for index in range(0, len(data), _PUT_LIMIT):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[index : index + _PUT_LIMIT])
    return len(data)
