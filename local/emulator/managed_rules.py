"""Step Functions: a state machine whose `.sync` SageMaker jobs need managed rules its role may not create is
refused when it is created or updated, as AWS refuses it, not when the state runs.

A `sagemaker:create*Job.sync` Task is followed through an EventBridge rule Step Functions manages
(`StepFunctionsGetEventsForSageMaker*JobsRule`); the state machine's role needs `events:PutTargets`,
`events:PutRule` and `events:DescribeRule` on it (developer guide, sagemaker-iam). AWS checks them when the state
machine is created or updated: CreateStateMachine/UpdateStateMachine answer AccessDeniedException "'<role ARN>' is
not authorized to create managed-rule." (as reported from AWS: nasa/cumulus#2693 for a create,
aws-ia/terraform-aws-control_tower_account_factory#365 for an update, and for a template's
`AWS::StepFunctions::StateMachine` of SageMaker jobs, whose create fails with it,
aws-samples/amazon-sagemaker-safe-deployment-pipeline#29). The role's policies are the local IAM's, evaluated by
the emulator's evaluator (`local.emulator.iam`); a role the local IAM does not hold is not checked. Pinned in
`tests/contract/emulator/test_iam.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from local.emulator import task_permissions
from local.emulator.iam import RolePolicies, Session
from local.emulator.seam import (
    cloudformation_provisioners,
    error_response,
    get_region,
    replace,
    require,
    service,
    wrap_resource_handler,
)

_RESOURCE = "AWS::StepFunctions::StateMachine"


def task_resources(definition: Any) -> Iterator[str]:
    """Every Task's `Resource` of an ASL definition, in Parallel branches and Map iterators too."""
    states = definition.get("States") if isinstance(definition, dict) else None
    for state in (states or {}).values():
        if not isinstance(state, dict):
            continue
        if state.get("Type") == "Task" and isinstance(state.get("Resource"), str):
            yield state["Resource"]
        for branch in state.get("Branches") or []:
            yield from task_resources(branch)
        for key in ("Iterator", "ItemProcessor"):
            yield from task_resources(state.get(key))


class ManagedRulePermissions:
    """Create/UpdateStateMachine (and the template's) refused when the role may not create the managed rules."""

    def __init__(self) -> None:
        self._policies = RolePolicies()

    def install(self) -> None:
        sfn = service("stepfunctions")
        replace(sfn, "_create_state_machine", self._api(create=True), "managed-rule-create")
        replace(sfn, "_update_state_machine", self._api(create=False), "managed-rule-update")
        require(cloudformation_provisioners(), "_sfn_definition")
        wrap_resource_handler(_RESOURCE, "create", self._template_create, "managed-rule-create")
        wrap_resource_handler(_RESOURCE, "update", self._template_update, "managed-rule-update")

    def refusal(self, role_arn: Any, definition: Any) -> str | None:
        """The refusal of a state machine of `role_arn` with `definition` (ASL text or object), or None."""
        if not isinstance(role_arn, str) or not role_arn.startswith("arn:"):
            return None
        if isinstance(definition, str):
            try:
                definition = json.loads(definition)
            except ValueError:
                return None  # the engine refuses an invalid definition itself
        session = Session.of(role_arn, "managed-rule-check")
        if not self._policies.exists(session):
            return None
        region = get_region()
        needed = [
            requirement
            for resource in dict.fromkeys(task_resources(definition))
            for requirement in task_permissions.requirements(resource, {}, region, session.account)
            if requirement.cause is not None
        ]
        refused = self._policies.refusal(session, needed, region) if needed else None
        if refused is None or refused.requirement.cause is None:
            return None
        return refused.requirement.cause.format(role=repr(role_arn))

    def _api(self, create: bool) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
        def factory(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
            def handle(data: Any) -> Any:
                if isinstance(data, dict):
                    current: dict[str, Any] = {}
                    if not create:
                        machines = require(service("stepfunctions"), "_state_machines")
                        current = machines.get(data.get("stateMachineArn", "")) or {}
                    role = data.get("roleArn") or current.get("roleArn")
                    definition = data.get("definition") or current.get("definition")
                    refused = self.refusal(role, definition)
                    if refused is not None:
                        return error_response("AccessDeniedException", refused)
                return original(data)

            return handle

        return factory

    def _checked_props(self, props: Any) -> None:
        if not isinstance(props, dict):
            return
        definition = require(cloudformation_provisioners(), "_sfn_definition")(props)
        refused = self.refusal(props.get("RoleArn"), definition)
        if refused is not None:
            raise ValueError(refused)

    def _template_create(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def create(logical_id: str, props: dict[str, Any], stack_name: str) -> Any:
            self._checked_props(props)
            return original(logical_id, props, stack_name)

        return create

    def _template_update(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def update(physical_id: str, old_props: dict[str, Any], new_props: dict[str, Any], *args: Any, **kwargs: Any):
            self._checked_props(new_props)
            return original(physical_id, old_props, new_props, *args, **kwargs)

        return update
