"""Builders for the monitoring schedule contract tests: a CSV model that captures its traffic, a baseline in S3,
a schedule request with the project's monitoring job, and the local SageMaker's trigger of an execution."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local.sagemaker.service import RUN_MONITORING_SCHEDULE
from retrain.monitoring import monitoring_app_specification, monitoring_schedule_config
from tests.support.sagemaker import IMAGE, ROLE_ARN, SageMakerWorld, targz

JOBS = Path(__file__).resolve().parents[2] / "jobs"

# A model of the SKLearn serving contract that answers CSV requests, a score a row.
CSV_INFERENCE_SCRIPT = """
import json

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    if content_type != "text/csv":
        raise ValueError(f"this model reads text/csv, not {content_type}")
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return [line for line in text.splitlines() if line]

def predict_fn(rows, model):
    return [0.5 for _ in rows]

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
"""


def capturing_csv_endpoint(world: SageMakerWorld, name: str, capture_prefix: str) -> str:
    code = world.put(f"{name}/code/inference.tar.gz", targz({"inference.py": CSV_INFERENCE_SCRIPT}))
    world.create_model(f"{name}-v1", "v1", code_uri=code)
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{world.bucket}/{capture_prefix}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    world.create_config(f"{name}-v1", f"{name}-v1", DataCaptureConfig=capture)
    world.sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v1")
    world.endpoint_status(name, "InService", timeout=120)
    return name


def schedule_config(
    world: SageMakerWorld, endpoint: str, baseline: str, sourcedir: str, expression: str = "cron(0 * ? * * *)"
) -> dict[str, Any]:
    """A data-quality schedule of `endpoint` against the baseline files under `baseline` (an S3 URI)."""
    return monitoring_schedule_config(
        endpoint_name=endpoint,
        schedule_expression=expression,
        baseline_uri=baseline,
        output_uri=f"s3://{world.bucket}/monitoring/{endpoint}",
        app_specification=monitoring_app_specification(IMAGE, sourcedir),
        role_arn=ROLE_ARN,
        cluster={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20},
        max_runtime_seconds=1800,
    )


def jobs_sourcedir(world: SageMakerWorld, key: str) -> str:
    return world.put(key, targz({path.name: path.read_bytes() for path in JOBS.glob("*.py")}))


def run_monitoring_schedule(world: SageMakerWorld, name: str) -> dict[str, Any]:
    """The local SageMaker's trigger: the schedule's execution now, over the window that ends now."""
    return trigger_monitoring_schedule(world.endpoint_url, name)


def trigger_monitoring_schedule(endpoint_url: str, name: str) -> dict[str, Any]:
    """`POST /_local/sagemaker/run-monitoring-schedule` on the local AWS at `endpoint_url`: the execution's summary."""
    request = AWSRequest(
        method="POST",
        url=endpoint_url + RUN_MONITORING_SCHEDULE,
        data=json.dumps({"MonitoringScheduleName": name}).encode(),
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials("test", "test"), "sagemaker", "us-east-1").add_auth(request)
    prepared = request.prepare()
    call = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    with urllib.request.urlopen(call, timeout=60) as response:
        return json.loads(response.read())


def put_drift_alarm(
    cloudwatch: Any,
    name: str,
    metric: str,
    dimensions: list[dict[str, str]],
    *,
    statistic: str = "Maximum",
    threshold: float = 0.1,
    operator: str = "GreaterThanThreshold",
) -> None:
    """A per-feature drift alarm as the stack keeps it (`infra/monitoring.py`): hourly Maximum above 0.1; or,
    with the statistic, threshold and operator, the quality alarm (hourly Minimum below the threshold)."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="aws/sagemaker/Endpoints/data-metrics",
        MetricName=metric,
        Dimensions=dimensions,
        Statistic=statistic,
        Period=3600,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator=operator,
        TreatMissingData="notBreaching",
    )
