"""Monitoring schedules: SageMaker's CreateMonitoringSchedule and friends, and the clock that runs them.

A schedule holds an inline `MonitoringJobDefinition` (a container, its inputs, output, baseline, environment,
role and resources: API reference, `CreateMonitoringSchedule`) and a `ScheduleConfig` (`cadence.py`). A
background thread starts each schedule's execution at its run times on the local clock scale, as a processing
job in the image's isolated environment (`monitoring_jobs.py`); the execution's summary is
DescribeMonitoringSchedule's `LastMonitoringExecutionSummary` and a row of ListMonitoringExecutions.

`run_now` starts a schedule's execution at once over the window that ends now, as if its run time had come:
what `POST /_local/sagemaker/run-monitoring-schedule` (the local SageMaker's own path, no AWS operation)
offers tests, so they need not wait for the clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path
from typing import Any

from local.clock import ClockScale
from local.runtime.staging import S3Staging
from local.sagemaker import execution_role
from local.sagemaker.arns import sagemaker_arn
from local.sagemaker.cadence import ScaledClock
from local.sagemaker.errors import SageMakerError
from local.sagemaker.jobs import JobContext
from local.sagemaker.listing import ListRequest, _seconds
from local.sagemaker.monitoring_jobs import (
    NAMESPACE,
    ExecutionRefused,
    MonitoringJobRunner,
    execution_outcome,
    processing_request,
    publish_metrics,
)
from local.sagemaker.store import Record, StateStore
from retrain.cadence import Cadence, CadenceError

logger = logging.getLogger("local.sagemaker")

SCHEDULE = "MonitoringSchedule"
EXECUTION = "MonitoringExecution"
PROCESSING_ROOT = "/opt/ml/processing/"
_SUMMARY_FIELDS = (
    "MonitoringScheduleName",
    "ScheduledTime",
    "CreationTime",
    "LastModifiedTime",
    "MonitoringExecutionStatus",
    "ProcessingJobArn",
    "EndpointName",
    "FailureReason",
    "MonitoringType",
)


def _equal(request: dict[str, Any], record: Record, pairs: tuple[tuple[str, str], ...]) -> bool:
    """The List* filters that name a value a record must have."""
    return all(request.get(key) in (None, record.get(field)) for key, field in pairs)


def check_definition(config: dict[str, Any], endpoint_exists: Any, region: str, account: str) -> Cadence:
    """The rules SageMaker applies beyond the service model's shapes, and what the local one runs."""
    schedule = config.get("ScheduleConfig")
    if not schedule:
        raise SageMakerError.validation("MonitoringScheduleConfig.ScheduleConfig is required")
    try:
        cadence = Cadence.parse(schedule)
    except CadenceError as error:
        raise SageMakerError.validation(str(error)) from None
    definition = config.get("MonitoringJobDefinition")
    if not definition:
        raise SageMakerError.validation(
            "The local SageMaker runs an inline MonitoringJobDefinition; give MonitoringJobDefinition "
            "(not MonitoringJobDefinitionName)."
        )
    inputs = definition["MonitoringInputs"]
    if len(inputs) != 1 or "EndpointInput" not in inputs[0]:
        raise SageMakerError.validation(
            "MonitoringInputs must hold one EndpointInput "
            "(BatchTransformInput is not supported by the local SageMaker)."
        )
    endpoint_input = inputs[0]["EndpointInput"]
    local_paths = [endpoint_input["LocalPath"]] + [
        output["S3Output"]["LocalPath"] for output in definition["MonitoringOutputConfig"]["MonitoringOutputs"]
    ]
    for path in local_paths:
        if not path.startswith(PROCESSING_ROOT):
            raise SageMakerError.validation(f"LocalPath {path!r} must be a path under {PROCESSING_ROOT}.")
    if not definition["MonitoringAppSpecification"].get("ContainerEntrypoint"):
        raise SageMakerError.validation(
            "MonitoringAppSpecification needs ContainerEntrypoint: the local SageMaker runs the entry point "
            "and arguments of the job, not an image's default command."
        )
    endpoint = endpoint_input["EndpointName"]
    if not endpoint_exists(endpoint):
        raise SageMakerError.validation(
            f'Could not find endpoint "{sagemaker_arn("endpoint", endpoint, region, account)}".'
        )
    return cadence


class MonitoringSchedules:
    def __init__(
        self, store: StateStore, context: JobContext, runners: dict[Any, Any], clock: ClockScale | None = None
    ) -> None:
        self._store = store
        self._context = context
        self._runners = runners
        today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.clock = ScaledClock(clock or ClockScale(), today.timestamp())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the API ---------------------------------------------------------------------------------

    def _schedule(self, name: str) -> Record:
        record = self._store.get(SCHEDULE, name)
        if record is None:
            raise SageMakerError.not_found(f"Could not find monitoring schedule {name}.")
        return record

    def _checked(self, config: dict[str, Any], region: str, account: str) -> Cadence:
        return check_definition(config, lambda name: self._store.exists("Endpoint", name), region, account)

    def _next_run(self, cadence: Cadence) -> float | None:
        now = self.clock.aws_time(time.time())
        return now if cadence.once else cadence.next_run(now)

    def create(self, request: dict[str, Any], region: str, account: str) -> dict[str, Any]:
        name, config = request["MonitoringScheduleName"], request["MonitoringScheduleConfig"]
        cadence = self._checked(config, region, account)
        arn = sagemaker_arn("monitoring-schedule", name, region, account)
        now = time.time()
        record = {
            "MonitoringScheduleArn": arn,
            "MonitoringScheduleName": name,
            "MonitoringScheduleStatus": "Scheduled",
            "MonitoringType": config.get("MonitoringType") or "DataQuality",
            "CreationTime": now,
            "LastModifiedTime": now,
            "MonitoringScheduleConfig": config,
            "EndpointName": config["MonitoringJobDefinition"]["MonitoringInputs"][0]["EndpointInput"]["EndpointName"],
            "_Region": region,
            "_Account": account,
            "_NextRun": self._next_run(cadence),
        }
        if not self._store.put_new(SCHEDULE, name, record):
            raise SageMakerError.in_use(f"Monitoring schedule {arn} already exists.")
        return {"MonitoringScheduleArn": arn}

    def describe(self, request: dict[str, Any], region: str, account: str) -> dict[str, Any]:
        return self._schedule(request["MonitoringScheduleName"])

    def update(self, request: dict[str, Any], region: str, account: str) -> dict[str, Any]:
        name, config = request["MonitoringScheduleName"], request["MonitoringScheduleConfig"]
        record = self._schedule(name)
        cadence = self._checked(config, region, account)
        endpoint = config["MonitoringJobDefinition"]["MonitoringInputs"][0]["EndpointInput"]["EndpointName"]
        self._store.set_fields(
            SCHEDULE,
            name,
            MonitoringScheduleConfig=config,
            MonitoringType=config.get("MonitoringType") or record.get("MonitoringType") or "DataQuality",
            EndpointName=endpoint,
            LastModifiedTime=time.time(),
            _NextRun=self._next_run(cadence),
        )
        return {"MonitoringScheduleArn": record["MonitoringScheduleArn"]}

    def delete(self, request: dict[str, Any], region: str, account: str) -> dict[str, Any]:
        name = request["MonitoringScheduleName"]
        self._schedule(name)
        self._store.delete(SCHEDULE, name)
        for execution in self._store.all(EXECUTION):
            if execution["MonitoringScheduleName"] == name:
                self._store.delete(EXECUTION, execution["_JobName"])
        return {}

    def list_schedules(self, request: dict[str, Any], region: str, account: str) -> tuple[list[Record], str | None]:
        listing = ListRequest(
            request,
            "MonitoringScheduleName",
            "MonitoringScheduleStatus",
            {"Name": "MonitoringScheduleName", "CreationTime": "CreationTime", "Status": "MonitoringScheduleStatus"},
        )

        pairs = (("EndpointName", "EndpointName"), ("MonitoringTypeEquals", "MonitoringType"))
        return listing.page(listing.select(self._store.all(SCHEDULE), lambda record: _equal(request, record, pairs)))

    def list_executions(self, request: dict[str, Any], region: str, account: str) -> tuple[list[Record], str | None]:
        listing = ListRequest(
            request,
            "MonitoringScheduleName",
            "MonitoringExecutionStatus",
            {"CreationTime": "CreationTime", "ScheduledTime": "ScheduledTime", "Status": "MonitoringExecutionStatus"},
            default_sort="ScheduledTime",
        )

        pairs = (
            ("MonitoringScheduleName", "MonitoringScheduleName"),
            ("EndpointName", "EndpointName"),
            ("MonitoringTypeEquals", "MonitoringType"),
        )

        def wanted(record: Record) -> bool:
            if not _equal(request, record, pairs):
                return False
            scheduled = record["ScheduledTime"]
            after, before = request.get("ScheduledTimeAfter"), request.get("ScheduledTimeBefore")
            return (after is None or scheduled > _seconds(after)) and (before is None or scheduled < _seconds(before))

        return listing.page(listing.select(self._store.all(EXECUTION), wanted))

    # --- executions ------------------------------------------------------------------------------

    def run_now(self, name: str) -> dict[str, Any]:
        """Start `name`'s execution now, over the window a run at this moment would analyse."""
        record = self._schedule(name)
        now = self.clock.aws_time(time.time())
        cadence = Cadence.parse(record["MonitoringScheduleConfig"]["ScheduleConfig"])
        return self._execute(record, now, cadence.window_ending(now))

    def _execute(self, schedule: Record, run: float, window: tuple[float, float]) -> dict[str, Any]:
        """Start the execution of `schedule`'s run at `run` over `window` (AWS's clock); return its summary."""
        start, end = (self.clock.local_time(moment) for moment in window)
        local_run = self.clock.local_time(run)
        end = float(int(end) + (end % 1 > 0))  # captures carry whole seconds: the second that began counts
        region = schedule["_Region"]
        staging = S3Staging(self._context.clients.client("s3", region), region)  # type: ignore[attr-defined]
        now = time.time()
        summary: Record = {
            "MonitoringScheduleName": schedule["MonitoringScheduleName"],
            "ScheduledTime": local_run,
            "CreationTime": now,
            "LastModifiedTime": now,
            "EndpointName": schedule.get("EndpointName"),
            "MonitoringType": schedule.get("MonitoringType"),
            "_Region": region,
        }
        try:
            definition = schedule["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
            image = definition["MonitoringAppSpecification"].get("ImageUri")
            refusal = execution_role.job_pull_refusal(self._context.roles, definition.get("RoleArn"), image, region)
            if refusal is not None:
                raise ExecutionRefused(refusal)  # the job's image is pulled as its role, as a processing job's
            job = processing_request(schedule, staging, self._store, local_run, (start, end))
        except ExecutionRefused as refused:
            summary.update(MonitoringExecutionStatus="Failed", FailureReason=str(refused), _JobName=f"refused-{now}")
            self._record(summary)
            return summary
        job.update(CreationTime=now, LastModifiedTime=now)
        summary.update(
            MonitoringExecutionStatus="InProgress",
            ProcessingJobArn=job["ProcessingJobArn"],
            _JobName=job["ProcessingJobName"],
        )
        self._store.put_new("ProcessingJob", job["ProcessingJobName"], job)
        self._record(summary)
        runner = MonitoringJobRunner(job["ProcessingJobName"], self._store, self._context, self._finished)
        self._runners[("ProcessingJob", job["ProcessingJobName"])] = runner
        runner.start()
        return summary

    def _record(self, summary: Record) -> None:
        self._store.put(EXECUTION, summary["_JobName"], summary)
        public = {key: summary[key] for key in _SUMMARY_FIELDS if summary.get(key) is not None}
        name = summary["MonitoringScheduleName"]
        if self._store.exists(SCHEDULE, name):
            self._store.set_fields(SCHEDULE, name, LastMonitoringExecutionSummary=public)

    def _finished(self, job_name: str, status: str, fields: dict[str, Any], root: Path) -> None:
        summary = self._store.get(EXECUTION, job_name)
        if summary is None:
            return  # its schedule was deleted
        outcome, reason = execution_outcome(status, fields)
        if outcome in ("Completed", "CompletedWithViolations"):
            region = summary["_Region"]
            cloudwatch = self._context.clients.client("cloudwatch", region)  # type: ignore[attr-defined]
            job = self._store.get("ProcessingJob", job_name) or {}
            refused = execution_role.metrics_refusal(self._context.roles, job.get("RoleArn"), NAMESPACE, region)
            try:
                if refused is None:
                    publish_metrics(cloudwatch, root)
                else:  # published as the job's role: refused, the metrics are missing (AWS documents no failure)
                    logger.warning("monitoring job %s: its CloudWatch metrics are not published: %s", job_name, refused)
            except ValueError as error:
                outcome, reason = "Failed", str(error)[:1024]
        summary.update(MonitoringExecutionStatus=outcome, LastModifiedTime=time.time())
        if reason:
            summary["FailureReason"] = reason
        self._record(summary)

    # --- the clock -------------------------------------------------------------------------------

    def start(self) -> None:
        now = time.time()
        for execution in self._store.all(EXECUTION):
            if execution["MonitoringExecutionStatus"] in ("Pending", "InProgress", "Stopping"):
                execution.update(
                    MonitoringExecutionStatus="Failed",
                    LastModifiedTime=now,
                    FailureReason="InternalServerError: the local SageMaker restarted while the execution ran",
                )
                self._record(execution)
        for schedule in self._store.all(SCHEDULE):  # runs missed while stopped are not made up, as on AWS
            cadence = Cadence.parse(schedule["MonitoringScheduleConfig"]["ScheduleConfig"])
            if not cadence.once:
                self._store.set_fields(SCHEDULE, schedule["MonitoringScheduleName"], _NextRun=self._next_run(cadence))
        self._thread = threading.Thread(target=self._loop, name="sagemaker-monitoring", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        # A tick a second, or finer at a scale where an hour is short.
        tick = min(1.0, max(0.05, self.clock.local_time(self.clock.anchor + 3600) - self.clock.anchor) / 60)
        while not self._stop.wait(tick):
            try:
                self.tick(time.time())
            except Exception:
                logger.exception("the monitoring schedules could not be run")

    def tick(self, local_now: float) -> None:
        """Start every schedule's execution whose run time has come."""
        now = self.clock.aws_time(local_now)
        with self._lock:
            for schedule in self._store.all(SCHEDULE):
                due = schedule.get("_NextRun")
                if due is None or due > now or schedule["MonitoringScheduleStatus"] != "Scheduled":
                    continue
                cadence = Cadence.parse(schedule["MonitoringScheduleConfig"]["ScheduleConfig"])
                self._store.set_fields(SCHEDULE, schedule["MonitoringScheduleName"], _NextRun=cadence.next_run(now))
                self._execute(schedule, due, cadence.window(due))
