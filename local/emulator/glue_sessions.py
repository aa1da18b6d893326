"""Glue: a job's own SDK calls (its Data Catalog registration, a Python shell job's calls) are made as the
job's role, and a Data Catalog call is authorized on the catalog, the database and the table.

On AWS a job's script runs with the credentials of Glue's session of the job's `Role`
(`assumed-role/<role>/GlueJobRunnerSession`), so each call it makes is authorized against the role's
policies. `GlueRoleSessions.credentials` gives the local run such a session, registered with the emulator's
STS and authorized by the same machinery as a function's session (`local.emulator.lambda_roles`); the keys
derive from the job and its role, so a warm driver's environment is the same from run to run. A role the
local IAM does not hold (a contract test's placeholder) keeps the account's keys.

A Data Catalog action is authorized on each resource the call reaches: "the catalog, the database and the
table" (AWS Glue developer guide, "Specifying AWS Glue resource ARNs": GetTable needs
`arn:aws:glue:<region>:<account>:catalog`, `database/<db>`, `table/<db>/<table>`). The emulator authorizes
one resource (the database's), so a role's session is checked for all three here, refused with Glue's
`AccessDeniedException` and IAM's message naming the first resource refused. Pinned in
`tests/contract/emulator/test_glue_role.py`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from local.emulator.lambda_roles import LambdaRoleSessions, caller_refusal
from local.emulator.seam import error_response, replace, request_scope, service
from local.emulator.task_permissions import Requirement

SESSION = "GlueJobRunnerSession"  # the session name Glue gives the job's role
_TARGET = "AWSGlue."


def _table_name(request: dict[str, Any]) -> str | None:
    """The table a catalog call names: `TableName`, `TableInput.Name`, or `Name` beside `DatabaseName`."""
    table_input = request.get("TableInput")
    for value in (request.get("TableName"), table_input.get("Name") if isinstance(table_input, dict) else None):
        if isinstance(value, str) and value:
            return value
    name = request.get("Name")
    return name if isinstance(name, str) and name else None


def catalog_requirements(operation: str, request: dict[str, Any], region: str, account: str) -> list[Requirement]:
    """What a call naming a database needs: the action on the catalog, the database and the table it names."""
    database = request.get("DatabaseName")
    if not isinstance(database, str) or not database:
        return []
    scope = f"arn:aws:glue:{region}:{account}"
    catalog = request.get("CatalogId")
    if isinstance(catalog, str) and catalog:
        scope = f"arn:aws:glue:{region}:{catalog}"
    resources = [f"{scope}:catalog", f"{scope}:database/{database}"]
    table = _table_name(request)
    if table is not None:
        resources.append(f"{scope}:table/{database}/{table}")
    return [Requirement(f"glue:{operation}", resource, {}) for resource in resources]


class GlueRoleSessions:
    """The job role's session for a run's own calls, and the Data Catalog's three resources (module doc)."""

    def __init__(self, sessions: LambdaRoleSessions) -> None:
        self._sessions = sessions

    def install(self) -> None:
        replace(service("glue"), "handle_request", self._checked, "glue-catalog-resources")

    def credentials(self, role_arn: str, job_name: str) -> dict[str, str] | None:
        """The environment credentials of the job role's Glue session; None: the role is not in the local IAM."""
        if not self._sessions.role_exists(role_arn):
            return None
        parts = role_arn.split(":")
        account, role = parts[4], role_arn.rsplit("/", 1)[-1]
        digest = hashlib.sha256(f"glue:{job_name}:{role_arn}".encode()).hexdigest()
        access_key = f"ASIA{digest[:16].upper()}"
        secret_key = hashlib.sha256(f"secret:{digest}".encode()).hexdigest()
        token = hashlib.sha256(f"token:{digest}".encode()).hexdigest()
        session = {
            "Arn": f"arn:aws:sts::{account}:assumed-role/{role}/{SESSION}",
            "UserId": f"{role}:{SESSION}",
            "SecretAccessKey": secret_key,
            "SessionToken": token,
        }
        service("sts").register_session(access_key, session)
        self._sessions.add_session_key(access_key)
        return {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key, "AWS_SESSION_TOKEN": token}

    @staticmethod
    def _checked(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def handle(method: str, path: str, headers: dict[str, str], body: bytes, params: dict[str, Any]) -> Any:
            target = next((value for key, value in headers.items() if key.lower() == "x-amz-target"), "")
            if target.startswith(_TARGET):
                try:
                    request = json.loads(body or b"{}")
                except ValueError:
                    request = None
                if isinstance(request, dict):
                    region, account = request_scope()
                    needed = catalog_requirements(target[len(_TARGET) :], request, region, account)
                    refusal = caller_refusal(headers, needed, region, account) if needed else None
                    if refusal is not None:
                        return error_response("AccessDeniedException", refusal)
            return await original(method, path, headers, body, params)

        return handle
