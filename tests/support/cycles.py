"""What the whole-cycle tests share: the first run's record, reading what a run left, steady traffic to
the endpoint, and a model broken the way real traffic breaks one."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.landing import sample_request
from retrain.runs import Timeline
from tests.support.pipeline import LocalPipeline
from tests.support.sagemaker import IMAGE


@dataclass(frozen=True)
class FirstRun:
    code: int
    summary: dict[str, Any]
    stderr: str
    endpoint: dict[str, Any]  # as the run left it


def read_s3(local: LocalPipeline, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bytes(local.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def states(timeline: Timeline) -> list[str]:
    return [visit.name for visit in timeline.visits]


def break_the_model(local: LocalPipeline, model_data_url: str) -> None:
    """Replace the candidate's model with an unfitted copy: it loads and passes the health check,
    then fails every prediction (a 5xx), like a model that breaks under real traffic. Done in the
    image's environment (scikit-learn 1.2.1): the model was pickled there."""
    from local.sagemaker.images import ContainerRuntimes

    bucket, key = model_data_url.removeprefix("s3://").split("/", 1)
    s3 = local.client("s3")
    archive = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tempfile.TemporaryDirectory() as scratch:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(scratch, filter="data")
        model = Path(scratch) / "model.joblib"
        unfit = (
            "import sys, joblib; from sklearn.base import clone; "
            "joblib.dump(clone(joblib.load(sys.argv[1])), sys.argv[1])"
        )
        environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        interpreter = ContainerRuntimes().interpreter(IMAGE)
        subprocess.run([interpreter, "-c", unfit, str(model)], cwd=scratch, env=environment, check=True, timeout=120)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted(Path(scratch).iterdir()):
                tar.add(path, arcname=path.name)
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


class Traffic:
    """Steady requests to the endpoint from a background thread, bounded in time."""

    def __init__(self, local: LocalPipeline, seconds: float) -> None:
        self.local, self.seconds = local, seconds
        self.answers: list[tuple[float, bool]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._send, daemon=True)

    def _send(self) -> None:
        runtime = self.local.client("sagemaker-runtime")
        body = sample_request(self.local.pipeline.config)
        deadline = time.monotonic() + self.seconds
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                runtime.invoke_endpoint(
                    EndpointName=self.local.pipeline.endpoint_name, ContentType="text/csv", Body=body
                )
                self.answers.append((time.monotonic(), True))
            except Exception:
                self.answers.append((time.monotonic(), False))
            time.sleep(0.05)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
