"""Builders for the local SageMaker contract tests: the scripts they run, a world of clients and a
bucket with the test code, models and endpoints, background load, and job requests."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.support.polling import wait_until

ROLE_ARN = "arn:aws:iam::000000000000:role/sagemaker-contract-test"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
IMAGE_REPOSITORY_ARN = "arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-scikit-learn"

# A training entry point that records what SageMaker's training contract handed it.
TRAIN_SCRIPT = """
import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, required=True)
parser.add_argument("--mode", default="ok")
parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
args = parser.parse_args()
seen = {
    "argv": sys.argv[1:],
    "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "TRAINING_JOB", "AWS_ENDPOINT"))},
    "train_files": sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"])),
    "hyperparameters_json": json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json"))),
    "model_dir_arg": args.model_dir,
}
if args.mode == "fail":
    class TrainingScriptFailed(Exception):
        pass
    raise TrainingScriptFailed("the training channel holds no usable rows; check the Glue job output")
if args.mode == "sleep":
    import time
    time.sleep(60)
with open(os.path.join(args.model_dir, "seen.json"), "w") as out:
    json.dump(seen, out)
with open(os.path.join(args.model_dir, "model.json"), "w") as out:
    json.dump({"version": "trained", "factor": args.alpha}, out)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "metrics.json"), "w") as out:
    json.dump({"alpha": args.alpha}, out)
print(f"validation:auc={0.5 + args.alpha / 10}")
"""

# A processing entry point: reads its input folder, writes a report to its output folder.
PROCESS_SCRIPT = """
import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--input", required=True)
parser.add_argument("--output", required=True)
parser.add_argument("--fail", action="store_true")
parser.add_argument("--message-file")
args = parser.parse_args()
if args.fail:
    class EvaluationFailed(Exception):
        pass
    failure = EvaluationFailed("evaluation.json could not be written: the test split is empty")
    if args.message_file:
        with open(args.message_file, "w") as out:
            out.write(f"{type(failure).__name__}: {failure}")
    raise failure
rows = sum(1 for name in os.listdir(args.input) for _ in open(os.path.join(args.input, name)))
os.makedirs(args.output, exist_ok=True)
with open(os.path.join(args.output, "evaluation.json"), "w") as out:
    json.dump({"rows": rows, "python": sys.executable, "stage": os.environ.get("STAGE")}, out)
"""

# The model's Environment variable naming a StartGate's file, and how long model_fn waits for it: less
# than the local SageMaker's 120 s for a model server to pass /ping, so a gate never opened fails the
# endpoint with the ping failure rather than leaving it Creating.
START_GATE_VARIABLE = "TEST_START_GATE"
START_GATE_BOUND_SECONDS = 90

# An inference script with the SKLearn serving contract. The model file says how it behaves; a model
# whose Environment names a start gate waits in model_fn until the gate is open.
INFERENCE_SCRIPT = (
    f"START_GATE_VARIABLE = {START_GATE_VARIABLE!r}\nSTART_GATE_BOUND_SECONDS = {START_GATE_BOUND_SECONDS}\n"
    + """
import json, os, time

class UnsupportedPayload(ValueError):
    status_code = 415

def model_fn(model_dir):
    gate = os.environ.get(START_GATE_VARIABLE)
    if gate:  # a test holds the model server starting until it opens the gate (StartGate)
        deadline = time.monotonic() + START_GATE_BOUND_SECONDS
        while not os.path.exists(gate):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the start gate {gate} was not opened")
            time.sleep(0.05)
    with open(os.path.join(model_dir, "model.json")) as source:
        return json.load(source)

def input_fn(body, content_type):
    if content_type != "application/json":
        raise UnsupportedPayload(f"this model reads application/json, not {content_type}")
    payload = json.loads(body)
    if "x" not in payload:
        raise ValueError("the payload has no field x")
    return payload

def predict_fn(data, model):
    if model.get("fails_on_probe") and data.get("probe"):
        raise RuntimeError("the model cannot score this transaction")
    if model.get("delay_ms"):
        time.sleep(model["delay_ms"] / 1000)
    return {"version": model["version"], "score": data["x"] * model.get("factor", 1)}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
"""
)


def targz(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def untar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


@dataclass
class SageMakerWorld:
    """Clients of the session's local AWS and a bucket holding the test code."""

    endpoint_url: str
    bucket: str
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service,
                endpoint_url=self.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
                config=Config(retries={"max_attempts": 4, "mode": "standard"}, read_timeout=90),
            )
        return self.clients[service]

    @property
    def sm(self) -> Any:
        return self.client("sagemaker")

    @property
    def runtime(self) -> Any:
        return self.client("sagemaker-runtime")

    def put(self, key: str, body: bytes) -> str:
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)
        return f"s3://{self.bucket}/{key}"

    def get(self, uri: str) -> bytes:
        bucket, _, key = uri[len("s3://") :].partition("/")
        return self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    def create_model(
        self,
        name: str,
        version: str,
        *,
        model_uri: str | None = None,
        code_uri: str | None = None,
        role_arn: str = ROLE_ARN,
        environment: dict[str, str] | None = None,
        **behaviour: Any,
    ) -> str:
        """A model of the test inference script (or `code_uri`) with a model.json of `behaviour` (or `model_uri`),
        run with the execution role `role_arn` and `environment` added to its container's Environment."""
        model_uri = model_uri or self.put(
            f"models/{name}/model.tar.gz", targz({"model.json": json.dumps({"version": version, **behaviour})})
        )
        self.sm.create_model(
            ModelName=name,
            ExecutionRoleArn=role_arn,
            PrimaryContainer={
                "Image": IMAGE,
                "ModelDataUrl": model_uri,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": code_uri or f"s3://{self.bucket}/code/inference.tar.gz",
                    **(environment or {}),
                },
            },
        )
        return name

    def create_config(self, name: str, model: str, instances: int = 1, **extra: Any) -> str:
        """An endpoint config of one variant; `extra` are more CreateEndpointConfig fields."""
        self.sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InitialInstanceCount": instances,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 1.0,
                }
            ],
            **extra,
        )
        return name

    def endpoint_status(self, name: str, *statuses: str, timeout: float = 60.0) -> dict[str, Any]:
        return wait_until(
            lambda: (d := self.sm.describe_endpoint(EndpointName=name))["EndpointStatus"] in statuses and d,
            timeout,
            f"endpoint {name} to reach {'/'.join(statuses)}",
        )

    def update_refused(self, name: str, what: str, timeout: float = 60.0) -> dict[str, Any]:
        """The endpoint once an update ended without taking effect: InService again, with its FailureReason."""
        return wait_until(
            lambda: (
                (d := self.sm.describe_endpoint(EndpointName=name))["EndpointStatus"] == "InService"
                and "FailureReason" in d
                and d
            ),
            timeout,
            what,
        )

    def invoke(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.runtime.invoke_endpoint(
            EndpointName=endpoint, Body=json.dumps(payload), ContentType="application/json"
        )
        return json.loads(response["Body"].read())


class StartGate:
    """Holds the model servers of the models given `environment` starting until the test opens it.

    The test inference script's `model_fn` waits (bounded) for the gate's file. The scikit-learn container
    loads the model with `model_fn` on its first request and answers /ping only after it returned
    (aws/sagemaker-scikit-learn-container serving.py `main` -> `import_module` -> `Transformer.initialize`),
    and SageMaker keeps an endpoint Creating (an update's new fleet starting) until its containers pass
    that health check (botocore `sagemaker/2017-07-24/service-2.json`, ProductionVariant
    `ContainerStartupHealthCheckTimeoutInSeconds`: "for your inference container to pass health check by
    SageMaker Hosting"). A `with` block opens the gate when it ends, passed or failed.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / f"start-gate-{uuid.uuid4().hex[:8]}"

    @property
    def environment(self) -> dict[str, str]:
        return {START_GATE_VARIABLE: str(self.path)}

    def open(self) -> None:
        self.path.touch()

    def __enter__(self) -> StartGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.open()


@dataclass
class Load:
    """Background clients invoking an endpoint until stopped; every answer and failure is counted."""

    world: SageMakerWorld
    endpoint: str
    payload: dict[str, Any]
    threads: int = 2
    versions: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)

    def _run(self) -> None:
        client = boto3.client(
            "sagemaker-runtime",
            endpoint_url=self.world.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, read_timeout=30),
        )  # no retries: every failure counts
        deadline = time.monotonic() + 180  # bounded even if a test forgets to stop it
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                response = client.invoke_endpoint(
                    EndpointName=self.endpoint, Body=json.dumps(self.payload), ContentType="application/json"
                )
                version = json.loads(response["Body"].read())["version"]
                self.versions[version] += 1
                self.timeline.append((time.monotonic(), version))
            except Exception as error:  # counted, the test asserts there are none
                self.failures.append(f"{type(error).__name__}: {error}")
            time.sleep(0.005)


TERMINAL = ("Completed", "Failed", "Stopped")


def training_request(world: SageMakerWorld, name: str, **hyperparameters: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "RoleArn": ROLE_ARN,
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "validation:auc", "Regex": "validation:auc=([0-9.]+)"}],
        },
        "HyperParameters": {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{world.bucket}/code/train.tar.gz"),
            **hyperparameters,
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{world.bucket}/data/train",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{world.bucket}/training"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    }


def finished_training(world: SageMakerWorld, name: str, timeout: float = 60) -> dict[str, Any]:
    return wait_until(
        lambda: (d := world.sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] in TERMINAL and d,
        timeout,
        f"training job {name}",
    )


def processing_request(world: SageMakerWorld, name: str, entrypoint: list[str], arguments: list[str]) -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE_ARN,
        "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": entrypoint, "ContainerArguments": arguments},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{world.bucket}/code/process.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{world.bucket}/data/train/",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "evaluation",
                    "S3Output": {
                        "S3Uri": f"s3://{world.bucket}/processing/{name}",
                        "LocalPath": "/opt/ml/processing/output/evaluation",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "Environment": {"STAGE": "contract"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    }


def finished_processing(world: SageMakerWorld, name: str, timeout: float = 60) -> dict[str, Any]:
    return wait_until(
        lambda: (
            (d := world.sm.describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"] in TERMINAL and d
        ),
        timeout,
        f"processing job {name}",
    )
