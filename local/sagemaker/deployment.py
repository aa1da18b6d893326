"""The deployment controller: creating, updating (blue/green), rolling back and deleting endpoints.

An endpoint's operations run one at a time on a thread of their own. `UpdateEndpoint` follows
SageMaker's deployment guardrails: the green fleet is provisioned and passes its health check while
the blue one serves; traffic moves in the steps of the traffic plan, each baked while the
`AutoRollbackConfiguration` alarms are evaluated; after the last step and `TerminationWaitInSeconds`
the blue fleet is drained and stopped. An alarm in ALARM (or `MaximumExecutionTimeoutInSeconds`
passing) sends all traffic back to the blue fleet at once (`RollingBack`), drains and stops the green
one, and leaves the endpoint `InService` on its old configuration with the reason in `FailureReason`.

Every rollout clock runs at the local AWS's clock scale (`local.clock`): the bakes, the termination
wait, the execution timeout and the alarms' periods, so AWS's values keep their proportions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.clock import ClockScale
from local.sagemaker.alarms import AlarmMonitor, UnsupportedAlarm
from local.sagemaker.execution_role import Roles, alarm_refusal, log_stream
from local.sagemaker.fleet import Fleet, FleetStartError, ModelStager, VariantFleet, VariantInstance
from local.sagemaker.logstream import LogStream
from local.sagemaker.router import EndpointRouter, Route
from local.sagemaker.store import Record, StateStore
from local.sagemaker.traffic import TrafficPlanError, TrafficStep, plan_traffic

logger = logging.getLogger("local.sagemaker")

KIND = "Endpoint"
DRAIN_TIMEOUT_SECONDS = 70.0  # longer than one invocation may take
WATCH_INTERVAL_SECONDS = 0.25  # below one scaled alarm period, so each is judged as it settles
DEFAULT_MAX_EXECUTION_SECONDS = 28800


@dataclass
class RollbackTiming:
    """When the last rollback's alarm was seen and when the blue fleet had all traffic again."""

    alarm_name: str
    alarm_seen_at: float
    blue_restored_at: float

    @property
    def seconds(self) -> float:
        return self.blue_restored_at - self.alarm_seen_at


@dataclass
class EndpointRuntime:
    name: str
    blue: Fleet | None = None
    green: Fleet | None = None
    operation: threading.Thread | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    last_rollback: RollbackTiming | None = None


class RolledBack(Exception):
    def __init__(self, reason: str, alarm: str | None, seen_at: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.alarm = alarm
        self.seen_at = seen_at


class EndpointManager:
    def __init__(
        self,
        store: StateStore,
        router: EndpointRouter,
        stager: ModelStager,
        clients: Any,
        state_dir: Path,
        ship_logs: bool = True,
        clock: ClockScale | None = None,
        roles: Roles | None = None,
    ) -> None:
        self._store = store
        self._roles = roles
        self._clock = clock or ClockScale()
        self._router = router
        self._stager = stager
        self._clients = clients
        self._state_dir = state_dir
        self._ship_logs = ship_logs
        self._lock = threading.Lock()
        self._runtimes: dict[str, EndpointRuntime] = {}

    # --- what the API starts (quick: the work happens on the endpoint's thread) ---------------

    def runtime(self, name: str) -> EndpointRuntime:
        with self._lock:
            return self._runtimes.setdefault(name, EndpointRuntime(name))

    def busy(self, name: str) -> bool:
        runtime = self.runtime(name)
        return runtime.operation is not None and runtime.operation.is_alive()

    def create(self, name: str) -> None:
        self._start(name, lambda runtime: self._create(runtime), "create")

    def update(self, name: str, config_name: str, deployment: dict[str, Any] | None) -> None:
        self._start(name, lambda runtime: self._update(runtime, config_name, deployment or {}), "update")

    def delete(self, name: str) -> None:
        runtime = self.runtime(name)
        runtime.cancel.set()
        self._start(name, lambda runtime: self._delete(runtime), "delete", after=runtime.operation)

    def restore(self, name: str, record: Record) -> None:
        self._start(name, lambda runtime: self._restore(runtime, record), "restore")

    def _start(
        self, name: str, work: Callable[[EndpointRuntime], None], what: str, after: threading.Thread | None = None
    ) -> None:
        runtime = self.runtime(name)

        def run() -> None:
            if after is not None:
                after.join()
            try:
                work(runtime)
            except Exception as error:  # never leave an endpoint in a moving state silently
                logger.exception("endpoint %s: %s failed in the local SageMaker", name, what)
                if self._store.exists(KIND, name):
                    self._store.set_fields(
                        KIND,
                        name,
                        EndpointStatus="Failed",
                        LastModifiedTime=time.time(),
                        FailureReason=f"InternalServerError: {error}"[:1024],
                    )

        runtime.operation = threading.Thread(target=run, name=f"endpoint-{what}-{name}", daemon=True)
        runtime.operation.start()

    def shutdown(self) -> None:
        """Stop every model server (the records stay: a restart brings them back)."""
        with self._lock:
            runtimes = list(self._runtimes.values())
        for runtime in runtimes:
            runtime.cancel.set()
        for runtime in runtimes:
            if runtime.operation is not None:
                runtime.operation.join(timeout=DRAIN_TIMEOUT_SECONDS)
            self._router.set_route(runtime.name, None)
            for fleet in (runtime.green, runtime.blue):
                if fleet is not None:
                    fleet.stop()
            runtime.blue = runtime.green = None

    def last_rollback(self, name: str) -> RollbackTiming | None:
        return self.runtime(name).last_rollback

    # --- fleets ---------------------------------------------------------------------------------

    def _build_fleet(self, endpoint: Record, config: Record) -> Fleet:
        region = endpoint["_Region"]
        aws = self._clients.process_environment(region)
        logs = self._clients.client("logs", region) if self._ship_logs else None
        log_dir = self._state_dir / "logs" / "endpoints" / endpoint["EndpointName"]
        group = f"/aws/sagemaker/Endpoints/{endpoint['EndpointName']}"
        variants: list[VariantFleet] = []
        for spec in config["ProductionVariants"]:
            model = self._store.get("Model", spec["ModelName"])
            if model is None:
                raise FleetStartError(
                    f'Could not find model "{spec["ModelName"]}" of production variant {spec["VariantName"]}.'
                )
            staged = self._stager.stage(model)
            variant = VariantFleet(
                spec["VariantName"],
                float(spec.get("InitialVariantWeight", 1.0)),
                spec["ModelName"],
                spec.get("InstanceType", "ml.m5.large"),
                instance_count=int(spec.get("InitialInstanceCount", 1)),
                role_arn=model.get("ExecutionRoleArn"),
            )

            def log_factory(
                instance_id: str, variant_name: str = variant.name, role: Any = variant.role_arn
            ) -> LogStream:
                # Streams are named after the variant and instance, as SageMaker names them; written as the role.
                stream = f"{variant_name}/{instance_id}"
                local_file = log_dir / f"{variant_name}-{instance_id}.log"
                where = (region, endpoint["_Account"])
                return log_stream(self._roles, role, logs, group, stream, local_file, where)

            # One process serves every instance of the variant (fleet.py says why).
            variant.instances.append(VariantInstance(variant.name, staged, log_factory, aws))
            variants.append(variant)
        return Fleet(
            endpoint["EndpointName"],
            config["EndpointConfigName"],
            variants,
            data_capture=config.get("DataCaptureConfig"),
        )

    def _start_fleet(self, endpoint: Record, config_name: str) -> Fleet:
        config = self._store.get("EndpointConfig", config_name)
        if config is None:
            raise FleetStartError(f'Could not find endpoint configuration "{config_name}".')
        fleet = self._build_fleet(endpoint, config)
        fleet.start()
        return fleet

    def _retire(self, fleet: Fleet) -> None:
        """Stop a fleet that no route names any more, once its requests in flight are answered."""
        if not self._router.wait_idle(fleet, DRAIN_TIMEOUT_SECONDS):
            logger.warning(
                "endpoint %s: fleet %s still busy after %ss; stopping it",
                fleet.endpoint,
                fleet.config_name,
                DRAIN_TIMEOUT_SECONDS,
            )
        fleet.stop()

    @staticmethod
    def _summaries(
        fleet: Fleet, config: Record | None, share: float, pending: bool, status: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        specs = {spec["VariantName"]: spec for spec in (config or {}).get("ProductionVariants", [])}
        summaries = []
        for variant in fleet.variants:
            image = (specs.get(variant.name) or {}).get("_Image") or "local-sklearn"
            summary: dict[str, Any] = {
                "VariantName": variant.name,
                "DeployedImages": [{"SpecifiedImage": image, "ResolvedImage": image, "ResolutionTime": time.time()}],
                "CurrentWeight": variant.weight * share,
                "DesiredWeight": variant.weight,
                "CurrentInstanceCount": variant.instance_count,
                "DesiredInstanceCount": variant.instance_count,
            }
            if pending:
                summary["InstanceType"] = variant.instance_type
            if status:
                summary["VariantStatus"] = status
            summaries.append(summary)
        return summaries

    # --- operations -------------------------------------------------------------------------

    def _create(self, runtime: EndpointRuntime) -> None:
        endpoint = self._store.get(KIND, runtime.name)
        assert endpoint is not None
        try:
            fleet = self._start_fleet(endpoint, endpoint["EndpointConfigName"])
        except FleetStartError as error:
            self._store.set_fields(
                KIND,
                runtime.name,
                EndpointStatus="Failed",
                FailureReason=str(error)[:1024],
                LastModifiedTime=time.time(),
            )
            return
        if runtime.cancel.is_set():
            fleet.stop()
            return
        runtime.blue = fleet
        self._router.set_route(runtime.name, Route(fleet))
        config = self._store.get("EndpointConfig", endpoint["EndpointConfigName"])
        self._store.set_fields(
            KIND,
            runtime.name,
            EndpointStatus="InService",
            LastModifiedTime=time.time(),
            ProductionVariants=self._summaries(fleet, config, 1.0, pending=False),
        )

    def _restore(self, runtime: EndpointRuntime, record: Record) -> None:
        status = record.get("EndpointStatus")
        if status == "Deleting":
            self._store.delete(KIND, runtime.name)
            return
        if status == "Failed":
            return
        if status == "Creating":
            self._create(runtime)
            return
        try:
            fleet = self._start_fleet(record, record["EndpointConfigName"])
        except FleetStartError as error:
            self._store.set_fields(
                KIND,
                runtime.name,
                EndpointStatus="Failed",
                LastModifiedTime=time.time(),
                FailureReason=f"Could not restart the endpoint: {error}"[:1024],
            )
            return
        runtime.blue = fleet
        self._router.set_route(runtime.name, Route(fleet))
        fields: dict[str, Any] = {"EndpointStatus": "InService", "LastModifiedTime": time.time()}
        if status in ("Updating", "RollingBack", "SystemUpdating"):
            pending = (record.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
            fields["FailureReason"] = (
                f"The local SageMaker restarted during the update to {pending}; the endpoint kept its "
                f"previous configuration {record['EndpointConfigName']}."
            )
        self._store.update(KIND, runtime.name, _replace_fields(fields, drop=("PendingDeploymentSummary",)))

    def _delete(self, runtime: EndpointRuntime) -> None:
        self._router.set_route(runtime.name, None)
        for fleet in (runtime.green, runtime.blue):
            if fleet is not None:
                self._retire(fleet)
        runtime.blue = runtime.green = None
        self._store.delete(KIND, runtime.name)
        with self._lock:
            self._runtimes.pop(runtime.name, None)

    def _update(self, runtime: EndpointRuntime, config_name: str, deployment: dict[str, Any]) -> None:
        started = time.time()
        endpoint = self._store.get(KIND, runtime.name)
        assert endpoint is not None and runtime.blue is not None
        blue = runtime.blue
        policy = deployment.get("BlueGreenUpdatePolicy") or {}
        routing = policy.get("TrafficRoutingConfiguration")
        alarms = [alarm["AlarmName"] for alarm in (deployment.get("AutoRollbackConfiguration") or {}).get("Alarms", [])]
        termination_wait = float(policy.get("TerminationWaitInSeconds", 0))
        timeout = float(policy.get("MaximumExecutionTimeoutInSeconds", DEFAULT_MAX_EXECUTION_SECONDS))
        new_config = self._store.get("EndpointConfig", config_name)

        def pending(status: str, message: str, share: float, fleet: Fleet | None) -> None:
            summary: dict[str, Any] = {"EndpointConfigName": config_name, "StartTime": started}
            variant_status = [{"Status": status, "StatusMessage": message, "StartTime": time.time()}]
            if fleet is not None:
                summary["ProductionVariants"] = self._summaries(fleet, new_config, share, True, variant_status)
            else:
                summary["ProductionVariants"] = [
                    {
                        "VariantName": spec["VariantName"],
                        "DesiredWeight": float(spec.get("InitialVariantWeight", 1.0)),
                        "CurrentWeight": 0.0,
                        "DesiredInstanceCount": int(spec.get("InitialInstanceCount", 1)),
                        "CurrentInstanceCount": 0,
                        "InstanceType": spec.get("InstanceType", "ml.m5.large"),
                        "VariantStatus": variant_status,
                    }
                    for spec in (new_config or {}).get("ProductionVariants", [])
                ]
            self._store.set_fields(KIND, runtime.name, PendingDeploymentSummary=summary, LastModifiedTime=time.time())

        pending("Creating", "Launching the new fleet of instances", 0.0, None)
        try:
            green = self._start_fleet(endpoint, config_name)
        except FleetStartError as error:
            self._end_update(runtime.name, deployment, failure=f"Failed to update endpoint: {error}")
            return
        runtime.green = green
        # The timeout runs on the scaled clock from here: starting a local fleet is real work that
        # takes seconds, not one of AWS's clocks (it takes minutes there).
        deadline = time.time() + self._clock.seconds(timeout)
        monitor = AlarmMonitor(self._clients.client("cloudwatch", endpoint["_Region"]), self._clock)
        try:
            try:
                steps = plan_traffic(routing, green.instance_count)
            except TrafficPlanError as error:
                raise RolledBack(f"Failed to update endpoint: {error}", None, time.monotonic()) from error
            self._check_alarm_access(endpoint, new_config, alarms)
            self._check_alarms(runtime.name, monitor, alarms)
            for step in steps:
                pending("ActivatingTraffic", f"Shifting traffic: {step.label}", step.green_share, green)
                self._router.set_route(runtime.name, Route(blue, green, step.green_share))
                self._set_blue_share(runtime.name, blue, 1.0 - step.green_share)
                bake = self._clock.shown(step.bake_seconds)
                pending("Baking", f"Baking period started ({step.label}, {bake})", step.green_share, green)
                self._watch(runtime, monitor, alarms, self._clock.seconds(step.bake_seconds), deadline, step)
            self._router.set_route(runtime.name, Route(green))
            if termination_wait > 0:
                wait = self._clock.shown(termination_wait)
                pending("Baking", f"Waiting {wait} before terminating the old fleet", 1.0, green)
                self._watch(runtime, monitor, alarms, self._clock.seconds(termination_wait), deadline, None)
        except RolledBack as rollback:
            self._roll_back(runtime, blue, green, deployment, rollback)
            return
        runtime.blue, runtime.green = green, None
        self._router.set_route(runtime.name, Route(green))
        self._retire(blue)
        self._store.update(
            KIND,
            runtime.name,
            _replace_fields(
                {
                    "EndpointConfigName": config_name,
                    "EndpointStatus": "InService",
                    "LastModifiedTime": time.time(),
                    "ProductionVariants": self._summaries(green, new_config, 1.0, pending=False),
                    "LastDeploymentConfig": deployment,
                },
                drop=("PendingDeploymentSummary", "FailureReason"),
            ),
        )

    def _set_blue_share(self, name: str, blue: Fleet, share: float) -> None:
        config = self._store.get("EndpointConfig", blue.config_name)
        self._store.set_fields(KIND, name, ProductionVariants=self._summaries(blue, config, share, pending=False))

    def _check_alarm_access(self, endpoint: Record, config: Record | None, alarms: list[str]) -> None:
        """The new fleet's execution roles read the alarms (local.sagemaker.execution_role.alarm_refusal)."""
        models = [self._store.get("Model", spec["ModelName"]) for spec in (config or {}).get("ProductionVariants", [])]
        roles = [str(model["ExecutionRoleArn"]) for model in models if model and model.get("ExecutionRoleArn")]
        refusal = alarm_refusal(self._roles, roles, alarms, endpoint["_Region"], endpoint["_Account"])
        if refusal is not None:
            raise RolledBack(
                f"Failed to update endpoint: the execution role cannot read the auto-rollback alarms: {refusal}",
                None,
                time.monotonic(),
            )

    @staticmethod
    def _check_alarms(name: str, monitor: AlarmMonitor, alarms: list[str]) -> None:
        """Before any traffic moves: a guardrail that cannot be judged here must not pass silently."""
        if not alarms:
            return
        try:
            monitor.definitions(alarms)
        except UnsupportedAlarm as error:
            raise RolledBack(
                f"Failed to update endpoint: the local SageMaker cannot evaluate its rollback alarms: {error}",
                None,
                time.monotonic(),
            ) from error
        except Exception as error:  # CloudWatch unreachable: the watch retries, say so
            logger.warning("endpoint %s: could not read the rollback alarms: %s", name, error)

    def _watch(
        self,
        runtime: EndpointRuntime,
        monitor: AlarmMonitor,
        alarms: list[str],
        seconds: float,
        deadline: float,
        step: TrafficStep | None,
    ) -> None:
        """Bake for `seconds`, evaluating the alarms; RolledBack when one is in ALARM."""
        end = time.time() + seconds
        while True:
            now = time.time()
            if runtime.cancel.is_set():
                raise RolledBack("The update was interrupted by the endpoint's deletion.", None, time.monotonic())
            if now >= deadline:
                raise RolledBack(
                    "The deployment exceeded its MaximumExecutionTimeoutInSeconds and was rolled back.",
                    None,
                    time.monotonic(),
                )
            if alarms:
                try:
                    found = monitor.first_in_alarm(alarms, now)
                except UnsupportedAlarm as error:  # changed during the deployment into one not judged here
                    raise RolledBack(
                        f"The local SageMaker cannot evaluate the rollback alarms: {error}", None, time.monotonic()
                    ) from error
                except Exception as error:  # CloudWatch unreachable: keep baking, say so
                    logger.warning("endpoint %s: could not evaluate alarms: %s", runtime.name, error)
                    found = None
                if found is not None:
                    definition, verdict = found
                    monitor.publish_state(definition, verdict)
                    where = f"during {step.label}" if step else "before terminating the old fleet"
                    raise RolledBack(
                        f"Rolled back the deployment because the CloudWatch alarm {definition.name} went into "
                        f"ALARM {where}: {verdict.reason}",
                        definition.name,
                        time.monotonic(),
                    )
            if now >= end:
                return
            time.sleep(min(WATCH_INTERVAL_SECONDS, max(0.0, end - now)))

    def _roll_back(
        self, runtime: EndpointRuntime, blue: Fleet, green: Fleet, deployment: dict[str, Any], rollback: RolledBack
    ) -> None:
        self._store.set_fields(
            KIND,
            runtime.name,
            EndpointStatus="RollingBack",
            FailureReason=rollback.reason[:1024],
            LastModifiedTime=time.time(),
        )
        self._router.set_route(runtime.name, Route(blue))  # one switch: every new request goes blue
        if rollback.alarm is not None:
            timing = RollbackTiming(rollback.alarm, rollback.seen_at, time.monotonic())
            runtime.last_rollback = timing
            # Kept with the endpoint (private, never in a response) for whoever measures rollbacks.
            self._store.set_fields(
                KIND,
                runtime.name,
                _LastRollback={
                    "AlarmName": timing.alarm_name,
                    "AlarmSeenAt": time.time() - (time.monotonic() - timing.alarm_seen_at),
                    "SecondsToBlue": timing.seconds,
                },
            )
        self._set_blue_share(runtime.name, blue, 1.0)
        self._retire(green)
        runtime.green = None
        if runtime.cancel.is_set():
            return
        self._end_update(runtime.name, deployment, failure=rollback.reason)

    def _end_update(self, name: str, deployment: dict[str, Any], failure: str) -> None:
        self._store.update(
            KIND,
            name,
            _replace_fields(
                {
                    "EndpointStatus": "InService",
                    "FailureReason": failure[:1024],
                    "LastModifiedTime": time.time(),
                    "LastDeploymentConfig": deployment,
                },
                drop=("PendingDeploymentSummary",),
            ),
        )


def _replace_fields(fields: dict[str, Any], drop: tuple[str, ...] = ()) -> Callable[[Record], None]:
    """A store change that sets `fields` and removes `drop` in one write."""

    def change(record: Record) -> None:
        record.update(fields)
        for name in drop:
            record.pop(name, None)

    return change
