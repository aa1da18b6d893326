"""Registering the local SageMaker with the emulator, through the seam's extension points only.

`local.emulator.seam` hands every add-on an `ExtensionPoints`; through it the local SageMaker becomes
the emulator's `sagemaker` service (requests signed for `sagemaker`, which `sagemaker-runtime` also
signs with, reach `handle_request`, and so do unsigned ones by `X-Amz-Target: SageMaker.*` or an
`api.sagemaker.`/`runtime.sagemaker.` host), the handler of `arn:aws:states:::sagemaker:*` Task
states, and the target of `arn:aws:states:::aws-sdk:sagemaker:*` ones; the registry's approval
changes go to the default bus as SageMaker's events. A Lambda function's role session calls the
SageMaker API only as its role allows (`refused`), as the emulator's own services are called. The
CloudWatch gap that would blind automatic rollback (metric math alarms losing their `Metrics`) is
`local.emulator.cloudwatch`'s.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from local.emulator.lambda_roles import authorizes_itself, caller_refusal, session_principal, unnamed_denial
from local.emulator.seam import ExtensionPoints, ServiceRouting, request_access_key, request_scope
from local.emulator.task_permissions import SDK, Requirement, requirements
from local.sagemaker.service import LocalSageMaker
from local.sagemaker.sfn_integration import PREFIX, StepFunctionsIntegration
from local.sagemaker.shapes import service_model

SERVICE = "sagemaker"
# The errors SageMaker's API models (botocore: ResourceNotFound, ResourceInUse, ResourceLimitExceeded, ...),
# which an aws-sdk Task reports with the Exception suffix.
API_ERRORS = tuple(shape.name for shape in service_model(SERVICE).error_shapes)
# sagemaker-runtime's InvokeEndpoint (botocore: POST /endpoints/{EndpointName}/invocations).
_INVOKE = re.compile(r"^/endpoints/([^/]+)/invocations/?$")


class ServiceModule:
    """The emulator's service-module contract, backed by the local SageMaker.

    The local SageMaker writes its records through to its own state file on every change (a killed
    emulator loses nothing), so the emulator's save-at-shutdown has nothing to add: `get_state`
    reports no state and the emulator leaves the file alone.
    """

    def __init__(self, local_sagemaker: LocalSageMaker) -> None:
        self._local = local_sagemaker

    async def handle_request(
        self, method: str, path: str, headers: dict[str, str], body: bytes, query_params: dict[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        refusal = refused(method, path, headers, body)
        return refusal or await self._local.handle_request(method, path, headers, body, query_params)

    def get_state(self) -> None:
        return None

    def load_persisted_state(self, data: Any) -> None:
        return None

    def reset(self) -> None:
        self._local.reset()


def refused(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes] | None:
    """A function's role session calls the SageMaker API only as its role allows (`local.emulator.lambda_roles`):
    the action on the resource the request names, as an `aws-sdk:sagemaker` Task needs it; InvokeEndpoint on the
    endpoint (Service Authorization Reference, SageMaker: `sagemaker:InvokeEndpoint`, resource type `endpoint`);
    AccessDeniedException. A session's request that is neither is refused, not served unauthorized."""
    target = next((value for key, value in headers.items() if key.lower() == "x-amz-target"), "")
    region, account = request_scope()
    invoked = _INVOKE.match(path) if method == "POST" else None
    if target.startswith("SageMaker."):
        operation = target[len("SageMaker.") :]
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return None  # the control plane answers a malformed body
        needed = requirements(f"{SDK}sagemaker:{operation[:1].lower()}{operation[1:]}", request, region, account)
        refusal = caller_refusal(headers, needed, region, account)
    elif invoked is not None:
        endpoint = f"arn:aws:sagemaker:{region}:{account}:endpoint/{unquote(invoked.group(1)).lower()}"
        refusal = caller_refusal(headers, [Requirement("sagemaker:InvokeEndpoint", endpoint)], region, account)
    else:
        principal = session_principal(request_access_key(headers), account)
        refusal = None if principal is None else unnamed_denial(principal, SERVICE, f"<{method} {path}>")
    if refusal is None:
        return None
    payload = {"__type": "AccessDeniedException", "message": refusal}
    return 400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(payload).encode()


def register(local_sagemaker: LocalSageMaker, points: ExtensionPoints) -> None:
    routing = ServiceRouting(
        target_prefixes=("SageMaker.",),
        host_patterns=(r"api\.sagemaker\.", r"runtime\.sagemaker\."),
        credential_scope=SERVICE,
    )
    points.add_service(SERVICE, ServiceModule(local_sagemaker), state_key="retrain_sagemaker", routing=routing)
    authorizes_itself(SERVICE)  # `refused`, for every request of a role session
    local_sagemaker.package_events.connect(points.put_service_event)
    failure = type(points.task_failure("States.Runtime", ""))
    integration = StepFunctionsIntegration(local_sagemaker.control_plane, failure, points.request_scope)
    points.add_task_integration(PREFIX, integration)
    points.add_sdk_integration(SERVICE, target_prefix="SageMaker", error_prefix="SageMaker", error_codes=API_ERRORS)
