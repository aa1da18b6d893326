"""A person who assumes a role (the stack's MLLeads role, to approve a candidate) works as that role.

On AWS, `sts:AssumeRole` succeeds only when the role's trust policy lets the caller assume it, and every
call made with the session's credentials is authorized against the role's policies (IAM user guide,
"Switch to an IAM role (AWS API)"; the MLLeads role of infra/access.py is meant to be used that way: the
stack's output `MLLeadsRoleArn`, "Assume this role to approve or reject a candidate"). The emulator does
both under its `AUTH=true`, which locally is on only for a function's session (`lambda_roles`).
`AssumedRoleSessions` turns it on for an AssumeRole of a role the local IAM holds, so its trust policy is
evaluated (a refusal is STS's `AccessDenied` "User: <caller> is not authorized to perform: sts:AssumeRole
on resource: <role>"), and registers the session's key with the function sessions', so the calls made with
it are authorized as the role's session, by the same machinery (the local SageMaker's through
`lambda_roles.caller_refusal`). Pinned in `tests/contract/emulator/test_role_sessions.py`.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from local.emulator.lambda_roles import LambdaRoleSessions
from local.emulator.seam import replace, service

_JSON_TARGET = "AWSSecurityTokenServiceV20110615."


def assumed_role(headers: dict[str, str], body: bytes, params: dict[str, Any]) -> str | None:
    """The RoleArn of an AssumeRole request (query or JSON protocol); None for any other STS call."""
    fields: dict[str, Any] = dict(params)
    target = headers.get("x-amz-target", "")
    try:
        if target.startswith(_JSON_TARGET):
            fields = {"Action": target[len(_JSON_TARGET) :], **json.loads(body or b"{}")}
        elif body:
            fields.update(parse_qs(body.decode("utf-8", errors="replace")))
    except (ValueError, TypeError):
        return None

    def first(name: str) -> str:
        value = fields.get(name, "")
        return str(value[0] if isinstance(value, list) and value else value or "")

    return first("RoleArn") if first("Action") == "AssumeRole" else None


class AssumedRoleSessions:
    """AssumeRole checked against the trust policy, and its session's calls against the role (module doc)."""

    def __init__(self, sessions: LambdaRoleSessions) -> None:
        self._sessions = sessions
        self._assuming: contextvars.ContextVar[bool] = contextvars.ContextVar("retrain_assuming", default=False)

    def install(self) -> None:
        sts = service("sts")
        replace(sts, "handle_request", self._checked, "assumed-role-sessions")
        replace(sts, "register_session", self._registering, "assumed-role-sessions")

    def _checked(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def handle(method: str, path: str, headers: dict[str, str], body: bytes, params: dict[str, Any]) -> Any:
            role_arn = assumed_role(headers, body, params)
            if not role_arn or not self._sessions.role_exists(role_arn):
                return await original(method, path, headers, body, params)
            token = self._assuming.set(True)
            try:
                with self._sessions.authorizing():
                    return await original(method, path, headers, body, params)
            finally:
                self._assuming.reset(token)

        return handle

    def _registering(self, original: Callable[[str, dict[str, Any]], None]) -> Callable[[str, dict[str, Any]], None]:
        def register(access_key: str, session: dict[str, Any]) -> None:
            original(access_key, session)
            if self._assuming.get():
                self._sessions.add_session_key(access_key)

        return register
