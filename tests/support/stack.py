"""The project's real stack deployed into a local AWS of its own, and what its tests read of it
(tests/local/test_stack.py): outputs, executions, the starter's decisions, the schedule fired once."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local.aws import LocalAws
from local.clients import LocalClients
from local.deploy import deploy_project_stack
from local.deploy.synth_cache import SynthCache
from local.home import StateDirectory
from local.runtime.standby import STANDBYS_ENV
from retrain.config import load_config
from retrain.triggers import execution_name
from tests.support.polling import wait_until
from tests.support.starter import bring_stack_to_rest, starter_decisions

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# What `infra/app.py` reads. The tests deploy a snapshot of these, taken once: other work in the
# tree while the tests run must not turn "redeploy without changes" into a change.
APP_FILES = ("infra", "retrain", "tasks", "jobs", "statemachines", "definitions", "retrain.toml", "cdk.json")
CONFIG = load_config(PROJECT_ROOT / "retrain.toml")
NAME = CONFIG.pipeline.name
OUTPUTS = {
    "StateMachineArn",
    "StateMachineConsoleUrl",
    "DataBucketName",
    "NotificationTopicArn",
    "StateTableName",
    "MLLeadsRoleArn",
    "ModelPackageGroupName",
    "ModelRegistryConsoleUrl",
    "EndpointName",
    "GlueJobName",
    "StarterFunctionName",
    "CodeVersion",
    "CatalogDatabaseName",
    "CatalogTableName",
    "AthenaWorkGroupName",
}
TASK_MODULES = (
    "validate_input",
    "check_for_new_data",
    "compare_with_champion",
    "request_approval",
    "promote_champion",
    "notify",
)
DEPLOY_TIMEOUT = 300.0
TRIGGER_TIMEOUT = 60.0


@dataclass
class DeployedStack:
    """A local AWS with the project's stack deployed into it."""

    aws: LocalAws
    project: Path
    outputs: dict[str, str]
    progress: list[str] = field(default_factory=list)  # of the last deploy
    first_deploy: list[str] = field(default_factory=list)  # progress of the first one
    first_status: str = ""  # the stack's status right after the first deploy (later tests update it)
    # A cache of its own, so "the first deploy synthesized" holds whatever deployed these sources before.
    synth_cache: SynthCache | None = None

    @property
    def home(self) -> StateDirectory:
        return self.aws.home

    @property
    def clients(self) -> LocalClients:
        return self.aws.clients()

    def client(self, service: str) -> Any:
        return self.clients.client(service)

    def deploy(self) -> dict[str, str]:
        self.progress.clear()
        return deploy_project_stack(
            self.clients,
            self.project,
            self.home,
            progress=self.progress.append,
            stack_timeout=DEPLOY_TIMEOUT,
            synth_cache=self.synth_cache,
        )

    @property
    def machine_arn(self) -> str:
        return self.outputs["StateMachineArn"]

    def executions(self) -> list[dict[str, Any]]:
        return list(self.client("stepfunctions").list_executions(stateMachineArn=self.machine_arn)["executions"])

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return dict(self.client("stepfunctions").describe_execution(executionArn=execution_arn))

    def a_running_execution(self) -> str:
        """A new execution that waits for data for an hour (nothing this module lands is in the counted
        layout), the only one running. Triggered runs wait 5 s here (the local run defaults): a test
        cannot count on one of those still running, nor on file order."""
        self.stop_running()
        name = f"waits-for-data-{datetime.now(UTC):%H%M%S%f}"
        self.client("stepfunctions").start_execution(
            stateMachineArn=self.machine_arn,
            name=name,
            input=json.dumps({"trigger": "manual", "wait_for_data_seconds": 3600, "max_data_checks": 2}),
        )
        wait_until(
            lambda: any(e["name"] == name and e["status"] == "RUNNING" for e in self.executions()),
            TRIGGER_TIMEOUT,
            "the execution to start",
        )
        return name

    def stop_running(self) -> None:
        """Triggered executions wait for data: stop them so nothing runs on (`bring_to_rest`)."""
        bring_stack_to_rest(self.client, self.outputs, NAME)

    def fire_schedule(self) -> datetime:
        """Fire the deployed schedule's target once, through the Scheduler (see the module doc)."""
        scheduler = self.client("scheduler")
        deployed = scheduler.get_schedule(Name=f"{NAME}-schedule")
        fired_at = datetime.now(UTC)
        due = (fired_at + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
        scheduler.create_schedule(
            Name=f"{NAME}-once-{fired_at:%H%M%S%f}",
            ScheduleExpression=f"at({due})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=deployed["Target"],
            ActionAfterCompletion="DELETE",
        )
        return fired_at

    def land_object(self, key: str) -> datetime:
        landed_at = datetime.now(UTC)
        self.client("s3").put_object(
            Bucket=self.outputs["DataBucketName"],
            Key=key,
            Body=b"transaction_id,event_time\nt-1,2026-01-01T00:00:00Z\n",
        )
        return landed_at

    def starter_decisions(self) -> list[dict[str, Any]]:
        return starter_decisions(self.client("logs"), self.outputs["StarterFunctionName"])

    def new_decision(self, seen: int, trigger: str | None = None) -> dict[str, Any]:
        """The first decision after the first `seen` ones (of that trigger, when given)."""

        def found() -> dict[str, Any] | None:
            fresh = self.starter_decisions()[seen:]
            return next((d for d in fresh if trigger is None or d.get("trigger") == trigger), None)

        return wait_until(found, TRIGGER_TIMEOUT, f"the starter to handle the {trigger or 'next'} trigger")


def snapshot_project(destination: Path) -> Path:
    """A copy of the project's app and everything it reads (APP_FILES) in `destination`."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".retrain-build")
    for name in APP_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy2(source, destination / name)
    return destination


def start_and_deploy(
    home: Path, project: Path, synth_cache: SynthCache | None = None, *, standbys: bool = True
) -> DeployedStack:
    """A local AWS of its own in `home` with `project` deployed; synthesized into a cache of the home's own unless
    `synth_cache` is given (another home's, of the same sources, to reuse its synthesis). `standbys=False`: its
    local Glue keeps no warm Spark driver, whose start (about 7 CPU-s) a module that runs no Spark job never uses."""
    environment = {} if standbys else {STANDBYS_ENV: "0"}
    aws = LocalAws(StateDirectory(home), port=0, environment=environment)
    aws.start()
    try:
        stack = DeployedStack(aws, project, {}, synth_cache=synth_cache or SynthCache(home / "synth-cache"))
        stack.outputs = stack.deploy()
        stack.first_deploy = list(stack.progress)
        [described] = stack.client("cloudformation").describe_stacks(StackName=NAME)["Stacks"]
        stack.first_status = described["StackStatus"]
    except BaseException:
        aws.stop()
        raise
    return stack


def window_names(*moments: datetime) -> set[str]:
    """The execution names of the 15-minute windows the moments fall in."""
    return {execution_name(moment) for moment in moments}
