"""EventBridge Scheduler and EventBridge rules deliver to a target only with the permission AWS requires.

A schedule's target names a `RoleArn`: Scheduler assumes it (its trust policy must let
`scheduler.amazonaws.com` assume it, with `aws:SourceArn`/`aws:SourceAccount` the schedule's) and calls the
target's API as the role (Scheduler user guide, "Set up the execution role"). A rule's target that names a
`RoleArn` is the same with `events.amazonaws.com`; a rule's Lambda target without one is invoked under the
function's resource policy, which must allow `events.amazonaws.com` `lambda:InvokeFunction` for the rule
(`aws:SourceArn`; EventBridge user guide, "Using resource-based policies for Amazon EventBridge"). The emulator
delivers regardless; `DeliveryPermissions` evaluates these with the emulator's own evaluator
(`local.emulator.service_roles.ServiceRoles`, `iam_evaluator.evaluate_resource_policy`) before delivering.

A refused delivery is handled as AWS handles a permission failure: not retried ("for errors that result from
missing permissions to a target ... no retry attempts", EventBridge user guide, "Using dead-letter queues to
process undelivered events"; Scheduler documents no other handling), sent to the target's dead-letter queue
when it has one, and counted in CloudWatch: `AWS/Events` `FailedInvocations` by `RuleName`; `AWS/Scheduler`
`InvocationAttemptCount`, `TargetErrorCount` and `InvocationDroppedCount` (or `InvocationsSentToDeadLetterCount`)
by `ScheduleGroup` (Scheduler user guide, "Monitoring Amazon EventBridge Scheduler with Amazon CloudWatch").
A role the local IAM does not hold (a contract test's placeholder) is not checked. Pinned in
`tests/contract/emulator/test_target_roles.py`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.emulator.iam import RolePolicies, Session, denial_message
from local.emulator.seam import get_region, iam_evaluator, replace, require, service
from local.emulator.service_roles import ServiceRoles, service_allowed
from local.emulator.task_permissions import Requirement

logger = logging.getLogger("retrain.local")

# The API a templated target's role must allow, by the target ARN's service (Scheduler "Managing targets").
_TARGET_ACTIONS = {
    "states": "states:StartExecution",
    "lambda": "lambda:InvokeFunction",
    "sqs": "sqs:SendMessage",
    "sns": "sns:Publish",
    "events": "events:PutEvents",
    "kinesis": "kinesis:PutRecord",
    "firehose": "firehose:PutRecord",
}


@dataclass(frozen=True)
class Delivery:
    """Who delivers to a target: Scheduler for a schedule, EventBridge for a rule."""

    principal: str
    source_arn: str
    account: str
    dimensions: dict[str, str]

    @property
    def scheduler(self) -> bool:
        return self.principal == "scheduler.amazonaws.com"

    @classmethod
    def of(cls, source: dict[str, Any]) -> Delivery:
        arn = str(source.get("Arn") or "")
        account = arn.split(":")[4] if arn.count(":") >= 5 else ""
        if ":schedule/" in arn:
            group = str(source.get("GroupName") or "default")
            return cls("scheduler.amazonaws.com", arn, account, {"ScheduleGroup": group})
        bus = str(source.get("EventBusName") or "default")
        names = {"RuleName": str(source.get("Name") or "")}
        return cls("events.amazonaws.com", arn, account, names if bus == "default" else {"EventBusName": bus, **names})


def _service_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 5 else ""


class DeliveryPermissions:
    """A target is delivered to only when its role (or a Lambda's resource policy) allows it (module doc)."""

    def __init__(self) -> None:
        self._roles = ServiceRoles()
        self._policies = RolePolicies()
        require(iam_evaluator(), "evaluate_resource_policy")

    def install(self) -> None:
        eventbridge = service("eventbridge")
        self._dead_letter = require(eventbridge, "_dispatch_to_sqs")
        self._parse_arn = require(eventbridge, "parse_arn")
        self._metrics = require(service("cloudwatch"), "record_metric")
        replace(eventbridge, "_invoke_target", self._checked, "delivery-permissions")

    def _checked(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def invoke(target: dict[str, Any], event: dict[str, Any], source: dict[str, Any], *rest: Any) -> Any:
            delivery = Delivery.of(source)
            refusal = self.refusal(target, delivery)
            if refusal is None:
                return original(target, event, source, *rest)
            self._failed(target, event, delivery, refusal)
            return None

        return invoke

    def refusal(self, target: dict[str, Any], delivery: Delivery) -> str | None:
        """Why the delivery is refused, or None when it is allowed (or not checked here)."""
        arn = str(target.get("Arn") or "")
        action = _TARGET_ACTIONS.get(_service_of(arn))
        role_arn = str(target.get("RoleArn") or "")
        region = get_region()
        context = {"aws:sourcearn": delivery.source_arn, "aws:sourceaccount": delivery.account}
        if role_arn:
            trusted = self._roles.trusts(role_arn, delivery.principal, region, context)
            if trusted is None or action is None:
                return None  # a role the local IAM does not hold; a universal target
            if not trusted:
                return f"{delivery.principal} is not allowed to assume the role {role_arn} (its trust policy)"
            name = role_arn.rsplit("/", 1)[-1]
            # The session's name is not documented; the service's name stands in (seen only in logs).
            session = Session(role_arn, name, role_arn.split(":")[4], delivery.principal.split(".")[0])
            refused = self._policies.refusal(session, [Requirement(action, arn)], region)
            return None if refused is None else denial_message(session, refused)
        if action == "lambda:InvokeFunction" and not delivery.scheduler:
            return self._function_policy_refusal(arn, delivery, region, context)
        return None

    @staticmethod
    def _function_policy_refusal(arn: str, delivery: Delivery, region: str, context: dict[str, str]) -> str | None:
        found = require(service("lambda_svc"), "function_policy_for_arn")(arn)
        if found is None:
            return None  # no such function: the emulator's own delivery reports it
        if service_allowed(found[0], delivery.principal, "lambda:InvokeFunction", arn, region, context):
            return None
        return (
            f"the resource policy of {arn} does not allow {delivery.principal} lambda:InvokeFunction "
            f"for {delivery.source_arn}"
        )

    def _failed(self, target: dict[str, Any], event: dict[str, Any], delivery: Delivery, refusal: str) -> None:
        arn = str(target.get("Arn") or "")
        logger.warning("%s: delivery to %s refused: %s", delivery.source_arn, arn, refusal)
        dead_letter = str((target.get("DeadLetterConfig") or {}).get("Arn") or "")
        if dead_letter:
            self._dead_letter(self._parse_arn(dead_letter), json.dumps(event, default=str))
        if delivery.scheduler:
            counts = ["InvocationAttemptCount", "TargetErrorCount"]
            counts.append("InvocationsSentToDeadLetterCount" if dead_letter else "InvocationDroppedCount")
            for name in counts:
                self._metrics("AWS/Scheduler", name, 1.0, "Count", {})
                self._metrics("AWS/Scheduler", name, 1.0, "Count", delivery.dimensions)
        else:
            self._metrics("AWS/Events", "FailedInvocations", 1.0, "Count", delivery.dimensions)
            if dead_letter:
                self._metrics("AWS/Events", "InvocationsSentToDlq", 1.0, "Count", delivery.dimensions)
