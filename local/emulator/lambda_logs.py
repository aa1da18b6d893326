"""Lambda: a function's logs reach CloudWatch Logs only as far as its execution role lets Lambda write them.

On AWS, Lambda "automatically captures logs for all function invocations and sends them to CloudWatch Logs,
provided your function's execution role has the necessary permissions": `logs:CreateLogGroup`,
`logs:CreateLogStream`, `logs:PutLogEvents` (Lambda developer guide, "Sending Lambda function logs to CloudWatch
Logs"); a role without them still runs the function, its output is not logged (AWS Lambda Operator Guide,
"Access to CloudWatch Logs"). The emulator wrote every invocation's log to `/aws/lambda/<function>` whatever the
role. Here, for a function whose role the local IAM holds, the invocation's lines are written only when the role's
session (`assumed-role/<role>/<function>`) may `logs:CreateLogStream` and `logs:PutLogEvents` on the stream (the
Service Authorization Reference's `log-group:<group>:log-stream:<stream>`) and, when the group does not exist yet,
`logs:CreateLogGroup` on the group; otherwise the invocation runs and its lines are not in CloudWatch Logs (the
local AWS logs why). Pinned in `tests/contract/emulator/test_lambda_logs.py`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local.emulator.seam import get_account_id, get_region, replace, require, service
from local.emulator.service_roles import ServiceRoles, log_write_refusal

logger = logging.getLogger("retrain.local")


class FunctionLogs:
    """Each invocation's log lines, written as the function's role allows (module doc)."""

    def __init__(self, roles: ServiceRoles) -> None:
        self._roles = roles

    def install(self) -> None:
        lambda_service = service("lambda_svc")
        require(service("cloudwatch_logs"), "_log_groups")
        replace(lambda_service, "_emit_lambda_logs", self._as_the_role, "lambda-logs-as-role")

    def refusal(self, config: dict[str, Any]) -> str | None:
        """IAM's refusal of the first log write the function's role may not make, or None (also for a role the
        local IAM does not hold)."""
        role_arn = str(config.get("Role") or "")
        name = str(config.get("FunctionName") or "")
        region, account = get_region(), get_account_id()
        authorize = self._roles.authorizer(role_arn, name, region) if role_arn.startswith("arn:") else None
        if authorize is None:
            return None
        group = (config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}"
        group_arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
        # Lambda's stream name: <date>/[<version>]<id>.
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[{config.get('Version') or '$LATEST'}]{uuid.uuid4().hex}"
        exists = group in require(service("cloudwatch_logs"), "_log_groups")
        return log_write_refusal(authorize, group_arn, stream, group_exists=exists)

    def _as_the_role(self, original: Callable[..., None]) -> Callable[..., None]:
        def emit(func: dict[str, Any], request_id: str, *args: Any, **kwargs: Any) -> None:
            config = func.get("config") or func
            refused = self.refusal(config if isinstance(config, dict) else {})
            if refused is not None:
                logger.warning(
                    "%s: invocation %s is not logged to CloudWatch Logs: %s",
                    config.get("FunctionName"),
                    request_id,
                    refused,
                )
                return
            original(func, request_id, *args, **kwargs)

        return emit
