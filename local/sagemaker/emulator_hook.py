"""Registering the local SageMaker with the emulator, through the emulator's own registries.

`local/extensions.py` hands every add-on an `ExtensionPoints`; through it the local SageMaker becomes
the emulator's `sagemaker` service (requests signed for `sagemaker`, which `sagemaker-runtime` also
signs with, reach `handle_request`) and the handler of `arn:aws:states:::sagemaker:*` Task states.
Two registries it does not cover are filled here the same way: the router's pattern for unsigned
requests (`X-Amz-Target: SageMaker.*`, `api.sagemaker.`/`runtime.sagemaker.` hosts) and the Step
Functions engine's aws-sdk service map (`arn:aws:states:::aws-sdk:sagemaker:*`). And because
automatic rollback reads its alarms from the emulator's CloudWatch, the CloudWatch gap that would
blind it (metric math alarms losing their `Metrics`) is closed here too (`alarm_queries`).
"""

from __future__ import annotations

from typing import Any, Protocol

from local.sagemaker.alarm_queries import MetricMathAlarms
from local.sagemaker.service import LocalSageMaker
from local.sagemaker.sfn_integration import PREFIX, StepFunctionsIntegration

SERVICE = "sagemaker"


class Points(Protocol):
    """The part of `local.extensions.ExtensionPoints` this add-on uses."""

    endpoint_url: str

    def add_service(self, name: str, module: Any, state_key: str | None = None) -> None: ...

    def add_task_integration(self, resource_prefix: str, handler: Any) -> None: ...

    def task_failure(self, error: str, cause: str) -> Exception: ...


class ServiceModule:
    """The emulator's service-module contract, backed by the local SageMaker.

    The local SageMaker writes its records through to its own state file on every change (a killed
    emulator loses nothing), so the emulator's save-at-shutdown has nothing to add: `get_state`
    reports no state and the emulator leaves the file alone.
    """

    def __init__(self, local_sagemaker: LocalSageMaker) -> None:
        self._local = local_sagemaker

    async def handle_request(self, method: str, path: str, headers: dict[str, str], body: bytes,
                             query_params: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        return await self._local.handle_request(method, path, headers, body, query_params)

    def get_state(self) -> None:
        return None

    def load_persisted_state(self, data: Any) -> None:
        return None

    def reset(self) -> None:
        self._local.reset()


def register(local_sagemaker: LocalSageMaker, points: Points) -> None:
    from ministack.core import responses, router
    from ministack.services import stepfunctions

    router.SERVICE_PATTERNS[SERVICE] = {
        "target_prefixes": ["SageMaker."],
        "host_patterns": [r"api\.sagemaker\.", r"runtime\.sagemaker\."],
        "credential_scope": SERVICE,
    }
    points.add_service(SERVICE, ServiceModule(local_sagemaker), state_key="retrain_sagemaker")

    def scope() -> tuple[str, str]:
        return responses.get_region(), responses.get_account_id()

    failure = type(points.task_failure("States.Runtime", ""))
    points.add_task_integration(PREFIX, StepFunctionsIntegration(local_sagemaker.control_plane, failure, scope))
    stepfunctions._AWS_SDK_SERVICE_MAP[SERVICE] = {"target_prefix": "SageMaker", "protocol": "json"}
    stepfunctions._AWS_SDK_ERROR_PREFIX[SERVICE] = "SageMaker"
    MetricMathAlarms().install()
