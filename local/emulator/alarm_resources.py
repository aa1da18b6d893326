"""CloudWatch alarm calls are authorized on every alarm they name, as on AWS.

The Service Authorization Reference (CloudWatch, "Actions defined by Amazon CloudWatch") gives
DescribeAlarms, DeleteAlarms, EnableAlarmActions and DisableAlarmActions the resource type `alarm`
(`arn:aws:cloudwatch:<region>:<account>:alarm:<name>`), and each takes a list of names
(`AlarmNames`, botocore `monitoring/2010-08-01/service-2.json`): a policy scoped to alarm ARNs allows the
call when it allows every alarm named. The emulator's `iam_actions.extract_resource_arn` reads only a
single `AlarmName` and from a JSON or query body only, so a call naming a list is authorized against
`*` and refused by such a policy. `AlarmResources` names every alarm of the list (JSON, smithy-rpc-v2-cbor
or the query form's `AlarmNames.member.N`), authorizes the call on each, and names in the denial the one
refused. With no names the call stays on `*`. Pinned in `tests/contract/emulator/test_alarm_permissions.py`.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable
from typing import Any

from local.emulator.seam import iam_actions, iam_evaluator, replace

_SERVICE = "monitoring"
_ALARM_ACTIONS = frozenset(
    f"cloudwatch:{name}" for name in ("DescribeAlarms", "DeleteAlarms", "EnableAlarmActions", "DisableAlarmActions")
)


def _decoded(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The request's members from a JSON or CBOR body ({} for the query form or an undecodable body)."""
    if not body:
        return {}
    content_type = headers.get("content-type", "")
    try:
        if "cbor" in content_type or "cbor" in headers.get("smithy-protocol", ""):
            import cbor2  # the emulator decodes CloudWatch's CBOR with it too

            decoded = cbor2.loads(body)
        elif "json" in content_type or headers.get("x-amz-target"):
            decoded = json.loads(body)
        else:
            return {}
    except Exception:  # an undecodable body is the service's to refuse
        return {}
    return decoded if isinstance(decoded, dict) else {}


def alarm_names(headers: dict[str, str], body: bytes, params: dict[str, Any]) -> list[str]:
    """The `AlarmNames` a CloudWatch request carries, in any of its protocols."""
    names = _decoded(headers, body).get("AlarmNames")
    if isinstance(names, list):
        return [str(name) for name in names]
    found: list[str] = []
    while value := params.get(f"AlarmNames.member.{len(found) + 1}"):
        found.append(str(value[0] if isinstance(value, list) else value))
    return found


def alarm_name(headers: dict[str, str], body: bytes) -> str:
    """A single `AlarmName` from a CBOR body, which the emulator's own reading misses."""
    name = _decoded(headers, body).get("AlarmName")
    return name if isinstance(name, str) else ""


class AlarmResources:
    """Every named alarm's ARN is the call's resource (module doc)."""

    def __init__(self) -> None:
        # Per request (each is served in its own context): the alarms still to authorize, and the one refused.
        self._pending: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("retrain_alarms", default=())
        self._refused: contextvars.ContextVar[str] = contextvars.ContextVar("retrain_alarm_refused", default="")

    def install(self) -> None:
        replace(iam_actions(), "extract_resource_arn", self._naming_alarms, "alarm-resources")
        replace(iam_evaluator(), "enforce", self._on_every_alarm, "alarm-resources")
        replace(iam_actions(), "access_denied_response", self._naming_the_refused, "alarm-resources")

    def _naming_alarms(self, original: Callable[..., str]) -> Callable[..., str]:
        def extract(
            service: str,
            method: str,
            path: str,
            headers: dict[str, str],
            body: bytes,
            params: dict[str, Any],
            region: str,
            account_id: str,
        ) -> str:
            resource = original(service, method, path, headers, body, params, region, account_id)
            if service != _SERVICE:
                return resource
            self._refused.set("")
            arns = tuple(
                f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}" for name in alarm_names(headers, body, params)
            )
            self._pending.set(arns)
            if arns:
                return arns[0]
            name = alarm_name(headers, body) if resource == "*" else ""
            return f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}" if name else resource

        return extract

    def _on_every_alarm(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def enforce(access_key_id: str, iam_action: str, service: str, region: str, **options: Any) -> Any:
            pending = self._pending.get()
            denied = original(access_key_id, iam_action, service, region, **options)
            if service != _SERVICE or iam_action not in _ALARM_ACTIONS or not pending:
                return denied
            if options.get("resource_arn") != pending[0]:
                return denied
            self._pending.set(())
            for arn in pending[1:]:
                if denied:
                    break
                denied = original(access_key_id, iam_action, service, region, **{**options, "resource_arn": arn})
                if denied:
                    self._refused.set(arn)
            return denied

        return enforce

    def _naming_the_refused(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def response(service: str, action: str, principal_arn: str, request_id: str, **options: Any) -> Any:
            refused = self._refused.get() if service == _SERVICE else ""
            if refused:
                options["resource_arn"] = refused
            return original(service, action, principal_arn, request_id, **options)

        return response
