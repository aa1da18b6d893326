"""Production variants as local model server processes.

`ModelStager` brings a model's artifacts from the local S3 into the state directory (the model
tarball and, from `SAGEMAKER_SUBMIT_DIRECTORY`, the inference code; for a model created from a
model package, those its package names); `VariantInstance` is one
instance of a variant (a `model_server.py` process on a free loopback port, health-checked with
`/ping` before it is handed any traffic); `Fleet` is every instance of an endpoint configuration,
what a blue/green deployment calls the blue or the green fleet.

A variant of N instances runs one model server process: the instances would be identical
processes of the same model, and on a laptop each costs a Python start and the model's memory.
Instances matter to the traffic shifts (a canary is whole instances of the variant) and to the
per-instance metrics, and both count `VariantFleet.instance_count`, not processes.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import queue
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.runtime.environments import EnvironmentMissing
from local.runtime.process import ScriptProcess
from local.runtime.staging import AccessDenied, NoObjectsFound
from local.sagemaker import execution_role
from local.sagemaker.errors import SageMakerError
from local.sagemaker.execution_role import Roles
from local.sagemaker.images import ContainerRuntimes, UnknownImage
from local.sagemaker.logstream import LogStream
from local.sagemaker.model_containers import ModelContainers
from local.sagemaker.store import Record

MODEL_SERVER = Path(__file__).with_name("model_server.py")
PORT_TIMEOUT_SECONDS = 30.0
HEALTH_TIMEOUT_SECONDS = 120.0
INVOCATION_TIMEOUT_SECONDS = 60.0  # SageMaker's limit for a real-time invocation
STOP_GRACE_SECONDS = 5.0


class FleetStartError(Exception):
    """A variant could not be brought up: the message is the endpoint's FailureReason."""


@dataclass(frozen=True)
class StagedModel:
    model_dir: Path
    code_dir: Path
    program: str
    environment: dict[str, str]
    interpreter: str  # of the image's isolated environment


class ModelStager:
    def __init__(
        self,
        state_dir: Path,
        clients: Any,
        containers: ModelContainers,
        runtimes: ContainerRuntimes,
        roles: Roles | None = None,
    ) -> None:
        self._root = state_dir / "models"
        self._roles = roles
        self._runtimes = runtimes
        self._clients = clients
        self._containers = containers
        self._lock = threading.Lock()

    def stage(self, model: Record) -> StagedModel:
        try:
            container = self._containers.primary(model)
        except SageMakerError as error:
            raise FleetStartError(
                f"Could not resolve the container of model {model['ModelName']}: {error.message}"
            ) from error
        # The image is pulled as the model's execution role (local.sagemaker.execution_role).
        refusal = execution_role.model_pull_refusal(
            self._roles, model.get("ExecutionRoleArn"), container.get("Image"), model["_Region"]
        )
        if refusal is not None:
            raise FleetStartError(refusal)
        environment = dict(container.get("Environment") or {})
        fingerprint = hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()[:12]
        base = self._root / f"{model['ModelName']}-{fingerprint}"
        model_dir, code_dir = base / "model", base / "code"
        submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
        with self._lock:
            if not (base / ".staged").exists():
                shutil.rmtree(base, ignore_errors=True)
                model_dir.mkdir(parents=True)
                # The model's data and code are read as its execution role (local.sagemaker.execution_role).
                s3 = execution_role.staging(
                    self._roles,
                    self._clients.client("s3", model["_Region"]),
                    model["_Region"],
                    model.get("ExecutionRoleArn"),
                )
                data_url = container.get("ModelDataUrl")
                try:
                    if data_url:
                        s3.download_and_extract(data_url, model_dir)
                    if submit.startswith("s3://"):
                        s3.download_and_extract(submit, code_dir)
                except (NoObjectsFound, AccessDenied) as error:
                    raise FleetStartError(f"Failed to download model data: {error}") from error
                (base / ".staged").write_text(time.ctime(), encoding="utf-8")
        if submit.startswith("/opt/ml/model"):
            # The SageMaker SDK repacks the code into model.tar.gz and points here.
            code_dir = model_dir / submit[len("/opt/ml/model") :].lstrip("/")
        elif not submit.startswith("s3://"):
            code_dir = model_dir / "code" if (model_dir / "code").is_dir() else model_dir
        try:
            interpreter = self._runtimes.interpreter(container.get("Image"))
        except (UnknownImage, EnvironmentMissing) as error:
            raise FleetStartError(f"Could not start model {model['ModelName']}: {error}") from error
        return StagedModel(model_dir, code_dir, environment.get("SAGEMAKER_PROGRAM", ""), environment, interpreter)


class VariantInstance:
    """One model server process of a production variant."""

    def __init__(
        self,
        variant: str,
        staged: StagedModel,
        log_factory: Callable[[str], LogStream],
        aws_environment: dict[str, str],
    ) -> None:
        self.variant = variant
        self.instance_id = "i-" + secrets.token_hex(8)
        self.staged = staged
        self.port = 0
        self._log = log_factory(self.instance_id)
        self._aws = aws_environment
        self._process: ScriptProcess | None = None
        self._port_line: queue.Queue[str] = queue.Queue()
        self._port_seen = False
        self._connections: queue.LifoQueue[http.client.HTTPConnection] = queue.LifoQueue()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def log_stream(self) -> LogStream:
        return self._log

    def alive(self) -> bool:
        return self._process is not None and self._process.alive()

    def start(self) -> None:
        env = {name: os.environ[name] for name in ("HOME", "LANG", "TMPDIR", "PATH") if name in os.environ}
        env.update(self.staged.environment)
        env.update(self._aws)
        # Only what the model's Environment holds and the AWS variables SageMaker gives every container:
        # SAGEMAKER_REGION, SAGEMAKER_PROGRAM... are the SDK's, in the model's Environment when set at all.
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = str(self.staged.code_dir)
        self._process = ScriptProcess(
            [
                self.staged.interpreter,
                str(MODEL_SERVER),
                "--model-dir",
                str(self.staged.model_dir),
                "--code-dir",
                str(self.staged.code_dir),
                "--program",
                self.staged.program,
                "--port",
                "0",
            ],
            cwd=str(self.staged.code_dir if self.staged.code_dir.is_dir() else self.staged.model_dir),
            env=env,
        )
        self._process.start(on_stdout=self._output_line, on_output_end=self._output_end)
        try:
            first = self._port_line.get(timeout=PORT_TIMEOUT_SECONDS)
            self.port = int(json.loads(first)["port"])
        except (queue.Empty, ValueError, KeyError, TypeError):
            self.stop()
            raise FleetStartError(self._ping_failure()) from None
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not self.alive():
                raise FleetStartError(self._ping_failure())
            if self.ping():
                self._log.write(f"instance {self.instance_id} passed the ping health check on port {self.port}")
                return
            time.sleep(0.1)
        self.stop()
        raise FleetStartError(self._ping_failure())

    def _ping_failure(self) -> str:
        return (
            f"The primary container for production variant {self.variant} did not pass the ping "
            "health check. Please check CloudWatch logs for this endpoint."
        )

    def _output_line(self, line: str) -> None:
        # The server's first JSON line says which port it bound; everything else is its log.
        if not self._port_seen and line.startswith("{"):
            self._port_seen = True
            self._port_line.put(line)
        else:
            self._log.write(line)

    def _output_end(self) -> None:
        if not self._port_seen:
            self._port_line.put("")

    def ping(self) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            connection.request("GET", "/ping")
            ok = connection.getresponse().status == 200
            connection.close()
            return ok
        except OSError:
            return False

    def invoke(
        self, body: bytes, content_type: str | None, accept: str | None, custom_attributes: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        """POST /invocations on a pooled keep-alive connection; OSError when it cannot connect."""
        headers = {"Content-Length": str(len(body))}
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        if custom_attributes:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
        try:
            connection = self._connections.get_nowait()
        except queue.Empty:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=INVOCATION_TIMEOUT_SECONDS)
        for attempt in (1, 2):
            try:
                connection.request("POST", "/invocations", body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                reply_headers = {name: value for name, value in response.getheaders()}
                self._connections.put(connection)
                return response.status, reply_headers, payload
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server had closed: one retry on a fresh one.
                connection.close()
                if attempt == 2:
                    raise
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=INVOCATION_TIMEOUT_SECONDS)
            except Exception:
                connection.close()
                raise
        raise OSError("unreachable")

    def stop(self) -> None:
        while True:
            try:
                self._connections.get_nowait().close()
            except queue.Empty:
                break
        if self._process is not None:
            self._process.stop(grace=STOP_GRACE_SECONDS)


@dataclass
class VariantFleet:
    name: str
    weight: float
    model_name: str
    instance_type: str
    instances: list[VariantInstance] = field(default_factory=list)
    instance_count: int = 1  # the configured instances, served by `instances` (one process)
    role_arn: str | None = None  # the model's execution role: its logs and data capture are written as it


@dataclass
class Fleet:
    """The instances of every variant of one endpoint configuration."""

    endpoint: str
    config_name: str
    variants: list[VariantFleet]
    fleet_id: str = field(default_factory=lambda: secrets.token_hex(4))
    # The config's DataCaptureConfig: endpoint configs never change, so the fleet keeps it for every request.
    data_capture: dict[str, Any] | None = None

    @property
    def instances(self) -> list[VariantInstance]:
        return [instance for variant in self.variants for instance in variant.instances]

    @property
    def instance_count(self) -> int:
        return sum(variant.instance_count for variant in self.variants)

    def variant(self, name: str) -> VariantFleet | None:
        return next((variant for variant in self.variants if variant.name == name), None)

    def start(self) -> None:
        """Start every instance in parallel; on any failure stop them all and raise."""
        instances = self.instances
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(instances)))) as pool:
            futures = [pool.submit(instance.start) for instance in instances]
            errors = [future.exception() for future in futures]
        failures = [error for error in errors if error is not None]
        if failures:
            self.stop()
            first = failures[0]
            raise first if isinstance(first, FleetStartError) else FleetStartError(str(first))

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()
            instance.log_stream.close()
