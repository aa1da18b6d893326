"""IAM for the principals the stack deploys, evaluated by the emulator's own policy evaluator.

`StateMachineRoles`: Step Functions calls every service integration of a Task state with the state
machine's role (developer guide, "How Step Functions works with IAM"). Before the local engine runs an
integration, the role's identity policies (inline, managed, its permissions boundary), as the stack
deployed them into the local IAM, are evaluated for each action the integration needs
(`local.emulator.task_permissions`); a refusal fails the state with the error and cause Step Functions
reports, naming the assumed-role session: "User: arn:aws:sts::<account>:assumed-role/<role>/<session>
is not authorized to perform: <action> on resource: <arn> because no identity-based policy allows the
<action> action". The failure goes through the state's Retry and Catch, as a task failure does on AWS.

A state machine whose role the local IAM does not hold (a contract test's placeholder role) is not
checked. `RETRAIN_LOCAL_IAM=off` in the local AWS's environment turns the checks off, for debugging.
Pinned in `tests/contract/emulator/test_iam.py`.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from local.emulator import task_permissions
from local.emulator.seam import execution_error, get_region, iam_evaluator, replace, require, service

ENFORCEMENT_ENV = "RETRAIN_LOCAL_IAM"


def enforced(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the local AWS enforces IAM: on unless `RETRAIN_LOCAL_IAM` says off."""
    value = (os.environ if environ is None else environ).get(ENFORCEMENT_ENV, "on").strip().lower()
    if value not in ("on", "off"):
        raise ValueError(f"{ENFORCEMENT_ENV}={value!r}: use 'on' (the default) or 'off' (debugging only)")
    return value == "on"


@dataclass(frozen=True)
class Session:
    """The state machine role's session an execution runs with."""

    role_arn: str
    role_name: str
    account: str
    name: str

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.name}"

    @classmethod
    def of(cls, role_arn: str, execution_arn: str) -> Session:
        # Step Functions names the session with 32 letters; one per execution here.
        digest = hashlib.sha256(execution_arn.encode()).digest()
        name = "".join(string.ascii_letters[byte % 52] for byte in digest)
        parts = role_arn.split(":")
        return cls(role_arn, role_arn.rsplit("/", 1)[-1], parts[4] if len(parts) > 4 else "", name)


@dataclass(frozen=True)
class Refusal:
    requirement: task_permissions.Requirement
    explicit: bool


def identity_denial(principal_arn: str, action: str, resource: str, explicit: bool, quoted: bool = False) -> str:
    """IAM's message for an identity-based refusal; S3 puts the resource in quotes ("on resource: "arn:..."")."""
    reason = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {action} action"
    )
    named = f'"{resource}"' if quoted else resource
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {named} {reason}"


def denial_message(session: Session, refusal: Refusal, quoted: bool = False) -> str:
    """IAM's refusal of a role session."""
    requirement = refusal.requirement
    return identity_denial(session.arn, requirement.action, requirement.resource, refusal.explicit, quoted)


class RolePolicies:
    """A role's identity policies in the local IAM, evaluated by the emulator's evaluator."""

    def __init__(self) -> None:
        self._evaluator = iam_evaluator()
        for name in ("EvalContext", "evaluate", "_gather_role_policies", "_permissions_boundary"):
            require(self._evaluator, name)

    def exists(self, session: Session) -> bool:
        roles = require(service("iam"), "_roles")
        return roles.get_scoped(session.account, None, session.role_name) is not None

    def refusal(self, session: Session, needed: list[task_permissions.Requirement], region: str) -> Refusal | None:
        """The first requirement the role's policies do not allow, or None when all are allowed."""
        evaluator = self._evaluator
        policies = evaluator._gather_role_policies(session.role_name, session.account)
        limits = evaluator._permissions_boundary(require(service("iam"), "_roles"), session.role_name, session.account)
        for requirement in needed:
            context = evaluator.EvalContext(
                principal_arn=session.arn,
                principal_type="AssumedRole",
                principal_account=session.account,
                action=requirement.action,
                resource_arn=requirement.resource,
                region=region,
                source_ip="",
                secure_transport=True,
                service_context=dict(requirement.context),
                principal_keys={"aws:principalarn": session.role_arn},
            )
            result = evaluator.evaluate(context, policies, *limits)
            if result.decision != "Allow":
                return Refusal(requirement, explicit=result.decision == "Deny")
        return None


class StateMachineRoles:
    """Every Task's service integration runs only when the state machine's role allows it (module doc)."""

    def __init__(self) -> None:
        self._session: contextvars.ContextVar[Session | None] = contextvars.ContextVar("retrain_sfn_role", default=None)
        self._policies: RolePolicies | None = None

    def install(self) -> None:
        sfn = service("stepfunctions")
        self._policies = RolePolicies()
        self._machines = require(sfn, "_state_machines")
        self._sdk_prefixes = require(sfn, "_AWS_SDK_ERROR_PREFIX")
        replace(sfn, "_execute_task", self._with_session, "iam-session")
        replace(sfn, "_invoke_resource", self._checked_invoke, "iam-invoke")
        replace(sfn, "_invoke_with_callback", self._checked_callback, "iam-callback")

    def _with_session(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def execute(state_def: dict[str, Any], raw_input: Any, execution: Any, ctx: Any) -> Any:
            token = self._session.set(self._session_of(execution))
            try:
                return original(state_def, raw_input, execution, ctx)
            finally:
                self._session.reset(token)

        return execute

    def _session_of(self, execution: Any) -> Session | None:
        if not isinstance(execution, dict):
            return None
        machine = self._machines.get(execution.get("stateMachineArn", ""))
        role_arn = (machine or {}).get("roleArn")
        if not role_arn:
            return None
        return Session.of(role_arn, str(execution.get("executionArn", "")))

    def _checked_invoke(self, original: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
        def invoke(resource: str, input_data: Any) -> Any:
            self.check(resource, input_data)
            return original(resource, input_data)

        return invoke

    def _checked_callback(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def invoke(resource: str, input_data: Any, token: str, state_def: dict[str, Any]) -> Any:
            self.check(resource, input_data)
            return original(resource, input_data, token, state_def)

        return invoke

    def check(self, resource: str, parameters: Any) -> None:
        """Raise the engine's task error when the running execution's role may not call `resource`."""
        session = self._session.get()
        policies = self._policies
        if session is None or policies is None or not policies.exists(session):
            return
        needed = task_permissions.requirements(resource, parameters, get_region(), session.account)
        if not needed:
            return
        refusal = policies.refusal(session, needed, get_region())
        if refusal is None:
            return
        requirement = refusal.requirement
        if requirement.cause is not None:
            raise execution_error()("States.TaskFailed", requirement.cause.format(role=repr(session.role_arn)))
        message = denial_message(session, refusal)
        integration = task_permissions.parse(resource)
        assert integration is not None  # requirements() found one
        error, cause = task_permissions.denial_error(integration, self._sdk_prefixes, message)
        raise execution_error()(error, cause)
