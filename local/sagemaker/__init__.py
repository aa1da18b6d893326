"""The local SageMaker of the embedded local AWS.

Training and processing jobs run as local processes with SageMaker's container contract, endpoints
are local model servers behind a router that does blue/green deployments with SageMaker's deployment
guardrails, and the model registry keeps packages and approvals. `install` registers all of it with
the emulator (its gateway and its Step Functions engine) and brings back what the state directory
holds from a previous run.
"""

from __future__ import annotations

import atexit
from typing import Any

from local.sagemaker.service import LocalSageMaker

__all__ = ["LocalSageMaker", "install", "installed"]

_installed: LocalSageMaker | None = None


def install(points: Any) -> LocalSageMaker:
    """Register SageMaker with the emulator of this process (`local.emulator.seam` calls this).

    `points` is the emulator's `ExtensionPoints`: its `home` is the local AWS's state directory
    (SageMaker keeps its records, work directories, logs and staged models under
    `<home>/emulator/sagemaker`) and its `endpoint_url` the emulator's address, which jobs and model
    servers use to reach the local S3, CloudWatch and CloudWatch Logs. Jobs and model servers run
    on the interpreter of their image's isolated environment (`retrain local runtimes` builds it).
    """
    from local.emulator import iam
    from local.emulator.service_roles import ServiceRoles
    from local.sagemaker import emulator_hook

    global _installed
    if _installed is not None:
        _installed.shutdown()
    # SageMaker acts as the roles it is passed (local.sagemaker.execution_role); RETRAIN_LOCAL_IAM=off: not.
    roles = ServiceRoles() if iam.enforced() else None
    service = LocalSageMaker(points.endpoint_url, points.home.root / "emulator", roles=roles)
    emulator_hook.register(service, points)
    service.start()
    points.on_stop(service.shutdown)  # its jobs and model servers end with the local AWS
    _installed = service
    return service


def installed() -> LocalSageMaker | None:
    return _installed


def _shutdown() -> None:
    if _installed is not None:
        _installed.shutdown()


atexit.register(_shutdown)
