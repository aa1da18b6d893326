"""The local SageMaker: one object that owns the control plane, the runtime, jobs and endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from local.clients import LocalClients
from local.clock import ClockScale
from local.runtime.process import end_processes_working_under
from local.sagemaker.api import ControlPlane
from local.sagemaker.capture import CaptureWriter
from local.sagemaker.deployment import EndpointManager, RollbackTiming
from local.sagemaker.errors import SageMakerError
from local.sagemaker.execution_role import Roles, capture_refusal
from local.sagemaker.fleet import ModelStager
from local.sagemaker.images import ContainerRuntimes
from local.sagemaker.jobs import JobContext
from local.sagemaker.metrics import InvocationMetrics
from local.sagemaker.model_containers import ModelContainers
from local.sagemaker.package_events import ModelPackageEvents
from local.sagemaker.registry import ModelRegistry
from local.sagemaker.router import EndpointRouter
from local.sagemaker.runtime import RuntimeApi
from local.sagemaker.store import StateStore

logger = logging.getLogger("local.sagemaker")

Response = tuple[int, dict[str, str], bytes]
# The local SageMaker's own path (no AWS operation): a monitoring schedule's execution now, for tests.
RUN_MONITORING_SCHEDULE = "/_local/sagemaker/run-monitoring-schedule"


class LocalSageMaker:
    def __init__(
        self,
        endpoint_url: str,
        state_dir: Path,
        *,
        runtimes: ContainerRuntimes | None = None,
        region: str = "us-east-1",
        ship_logs: bool = True,
        publish_metrics: bool = True,
        clock: ClockScale | None = None,
        roles: Roles | None = None,
    ) -> None:
        self.root = state_dir / "sagemaker"
        self._roles = roles
        self.root.mkdir(parents=True, exist_ok=True)
        self.clients = LocalClients(endpoint_url, region)
        self.store = StateStore(self.root / "state.json")
        self.router = EndpointRouter()
        publish = self._publish_metrics if publish_metrics else None
        self.metrics = InvocationMetrics(publish)
        self.package_events = ModelPackageEvents()  # connected to the bus when the emulator registers it
        registry = ModelRegistry(self.store, self.package_events)
        containers = ModelContainers(registry)
        runtimes = runtimes or ContainerRuntimes()  # every container runs in its image's isolated environment
        clock = clock or ClockScale.from_environment()
        self.endpoints = EndpointManager(
            self.store,
            self.router,
            ModelStager(self.root, self.clients, containers, runtimes, roles),
            self.clients,
            self.root,
            ship_logs=ship_logs,
            clock=clock,
            roles=roles,
        )
        self.control_plane = ControlPlane(
            self.store,
            self.endpoints,
            registry,
            JobContext(self.root, self.clients, runtimes, ship_logs=ship_logs, roles=roles),
            containers,
            clock,
        )
        self.capture = CaptureWriter(self._put_capture)
        self.runtime = RuntimeApi(self.store, self.router, self.metrics, self.capture)
        self._stopped = False

    def _publish_metrics(self, region: str, data: list[dict[str, Any]]) -> None:
        self.clients.client("cloudwatch", region).put_metric_data(Namespace="AWS/SageMaker", MetricData=data)

    def _put_capture(self, region: str, bucket: str, key: str, body: bytes, role_arn: str | None) -> None:
        # Written as the variant's model's execution role; a refusal loses the capture (CaptureWriter.flush).
        refusal = capture_refusal(self._roles, role_arn, bucket, key, region)
        if refusal is not None:
            raise PermissionError(f"AccessDenied: {refusal}")
        self.clients.client("s3", region).put_object(Bucket=bucket, Key=key, Body=body)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Resume after a restart of the local AWS: endpoints come back, interrupted jobs end."""
        self.metrics.start()
        # Whatever a killed predecessor's jobs left running ends first: a job's process (and its children) works
        # in the job's folder, and none of this instance's jobs has started yet.
        ended = end_processes_working_under(self.root / "work")
        if ended:
            logger.warning("ended the process groups %s left running by a local SageMaker that was stopped", ended)
        now = time.time()
        for kind, status_key, name_key in (
            ("TrainingJob", "TrainingJobStatus", "TrainingJobName"),
            ("ProcessingJob", "ProcessingJobStatus", "ProcessingJobName"),
        ):
            for record in self.store.all(kind):
                if record[status_key] not in ("InProgress", "Stopping"):
                    continue
                stopped = record[status_key] == "Stopping"
                fields: dict[str, Any] = {status_key: "Stopped" if stopped else "Failed", "LastModifiedTime": now}
                if not stopped:
                    fields["FailureReason"] = (
                        "InternalServerError: the local SageMaker restarted while the job "
                        "was running; start it again under a new name."
                    )
                if kind == "TrainingJob":
                    fields.update(SecondaryStatus=fields["TrainingJobStatus"], TrainingEndTime=now)
                else:
                    fields["ProcessingEndTime"] = now
                self.store.set_fields(kind, record[name_key], **fields)
        threading.Thread(target=self._restore_endpoints, name="sagemaker-restore", daemon=True).start()
        self.control_plane.monitoring.start()

    def _restore_endpoints(self) -> None:
        # Model data may have to come from the local S3: wait until the emulator serves.
        self._wait_for_emulator(timeout=120.0)
        for record in self.store.all("Endpoint"):
            self.endpoints.restore(record["EndpointName"], record)

    def _wait_for_emulator(self, timeout: float) -> bool:
        address = urlparse(self.clients.endpoint_url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stopped:
            try:
                socket.create_connection((address.hostname or "127.0.0.1", address.port or 80), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.2)
        return False

    def shutdown(self) -> None:
        """Stop model servers and running jobs; state stays on disk for the next start."""
        if self._stopped:
            return
        self._stopped = True
        self.control_plane.monitoring.stop()
        for runner in list(self.control_plane.runners.values()):
            runner.stop()
        for runner in list(self.control_plane.runners.values()):
            runner.join(timeout=30)
        self.endpoints.shutdown()
        self.metrics.stop()
        self.capture.close()

    def reset(self) -> None:
        """The emulator's reset: every job and endpoint ends and every record goes."""
        for runner in list(self.control_plane.runners.values()):
            runner.stop()
        self.endpoints.shutdown()
        self.control_plane.runners.clear()
        self.store.clear()

    def last_rollback(self, endpoint: str) -> RollbackTiming | None:
        return self.endpoints.last_rollback(endpoint)

    # --- the emulator's service handler ---------------------------------------------------------

    async def handle_request(
        self, method: str, path: str, headers: dict[str, str], body: bytes, query_params: dict[str, Any]
    ) -> Response:
        from local.emulator.seam import get_account_id, get_region

        region, account = get_region(), get_account_id()
        target = next((value for key, value in headers.items() if key.lower() == "x-amz-target"), "")
        if method == "POST" and path == RUN_MONITORING_SCHEDULE:
            # Off the event loop: starting the execution lists the capture in the local S3 served by this loop.
            return await asyncio.to_thread(self._run_monitoring_schedule, body)
        if target.startswith("SageMaker."):
            return self.control_plane.handle(target, body, region, account)
        if RuntimeApi.matches(method, path):
            return await self.runtime.handle(path, headers, body, account)
        return (
            404,
            {"Content-Type": "application/json"},
            b'{"__type": "UnknownOperationException", "message": "The local SageMaker serves the SageMaker '
            b'JSON API (X-Amz-Target: SageMaker.<Operation>) and POST /endpoints/<name>/invocations."}',
        )

    def _run_monitoring_schedule(self, body: bytes) -> Response:
        headers = {"Content-Type": "application/json"}
        try:
            name = json.loads(body or b"{}")["MonitoringScheduleName"]
            summary = self.control_plane.monitoring.run_now(str(name))
        except (ValueError, KeyError, TypeError):
            payload = {"__type": "ValidationException", "message": 'send {"MonitoringScheduleName": "<name>"}'}
            return 400, headers, json.dumps(payload).encode()
        except SageMakerError as error:
            return error.status, headers, json.dumps({"__type": error.code, "message": error.message}).encode()
        public = {key: value for key, value in summary.items() if not key.startswith("_")}
        return 200, headers, json.dumps(public).encode()
