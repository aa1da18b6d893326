"""The roles the stack passes to services, used as those services use them on AWS.

A service that works with a passed role (SageMaker with a job's `RoleArn` or a model's
`ExecutionRoleArn`, Glue with a job's `Role`) first assumes it, which the role's trust policy must
allow for the service's principal (`sagemaker.amazonaws.com`), and then makes its calls as the
role's session: each call is authorized against the role's identity policies (inline, managed, the
permissions boundary) as the stack deployed them into the local IAM. Both decisions are the
emulator's own evaluator's (`ministack.core.iam_evaluator`: `evaluate_resource_policy` for the trust
policy, `evaluate` through `local.emulator.iam.RolePolicies` for the calls), the one the state
machine role is checked with. A role the local IAM does not hold (a contract test's placeholder ARN)
is not checked. Pinned in `tests/contract/local_sagemaker/test_execution_role.py` and
`tests/contract/emulator/test_glue_role.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from local.emulator.iam import RolePolicies, Session, denial_message
from local.emulator.seam import iam_evaluator, require, service
from local.emulator.task_permissions import Requirement
from local.runtime.staging import Authorize


def _split(role_arn: str) -> tuple[str, str]:
    """(account, role name) of `arn:aws:iam::<account>:role[/path]/<name>`."""
    parts = role_arn.split(":")
    return (parts[4] if len(parts) > 5 else ""), role_arn.rsplit("/", 1)[-1]


def service_allowed(
    document: Any, principal: str, action: str, resource: str, region: str, context: Mapping[str, str] | None = None
) -> bool:
    """Whether a resource policy (a trust policy, a function's policy) allows the service `principal` `action`
    on `resource`, with the condition keys `context` (lower case, e.g. `aws:sourcearn`)."""
    evaluator = iam_evaluator()
    request = evaluator.EvalContext(
        principal_arn=principal,
        principal_type="Service",
        principal_account="",
        action=action,
        resource_arn=resource,
        region=region,
        source_ip="",
        secure_transport=True,
        service_context=dict(context or {}),
    )
    return bool(evaluator.evaluate_resource_policy(document, request, service=principal).decision == "Allow")


def log_write_refusal(authorize: Authorize, group_arn: str, stream: str, *, group_exists: bool) -> str | None:
    """IAM's refusal of the first CloudWatch Logs write a service makes as a role's session (Lambda for a
    function, Glue for a job run), or None: `logs:CreateLogGroup` on the group when it does not exist, then
    `logs:CreateLogStream` and `logs:PutLogEvents` on the stream (Service Authorization Reference, CloudWatch
    Logs: `log-group:<group>:log-stream:<stream>`)."""
    stream_arn = f"{group_arn}:log-stream:{stream}"
    needed = [] if group_exists else [("logs:CreateLogGroup", group_arn)]
    needed += [("logs:CreateLogStream", stream_arn), ("logs:PutLogEvents", stream_arn)]
    return next((refused for action, arn in needed if (refused := authorize(action, arn, {})) is not None), None)


class ServiceRoles:
    """Trust and calls of a passed role (module doc)."""

    def __init__(self) -> None:
        self._policies = RolePolicies()
        require(iam_evaluator(), "evaluate_resource_policy")

    def _role(self, role_arn: str) -> dict[str, Any] | None:
        account, name = _split(role_arn)
        role = require(service("iam"), "_roles").get_scoped(account, None, name)
        return role if isinstance(role, dict) else None

    def trusts(
        self, role_arn: str, principal: str, region: str, context: Mapping[str, str] | None = None
    ) -> bool | None:
        """Whether the role's trust policy lets the service `principal` assume it (with the condition keys
        `context`, lower case, e.g. `aws:sourcearn`); None: no such role here."""
        role = self._role(role_arn)
        if role is None:
            return None
        document = role.get("AssumeRolePolicyDocument")
        return service_allowed(document, principal, "sts:AssumeRole", role_arn, region, context)

    def authorizer(self, role_arn: str, session_name: str, region: str) -> Authorize | None:
        """A check of each call the service makes as the role's `session_name`; None: no such role here."""
        account, name = _split(role_arn)
        session = Session(role_arn, name, account, session_name)
        policies = self._policies
        if not policies.exists(session):
            return None

        def authorize(action: str, resource: str, context: Mapping[str, str]) -> str | None:
            refusal = policies.refusal(session, [Requirement(action, resource, dict(context))], region)
            return None if refusal is None else denial_message(session, refusal, quoted=action.startswith("s3:"))

        return authorize
