"""The fields of SageMaker and Glue integrations, checked against the API they call.

Step Functions validates an optimized integration's parameters (`arn:aws:states:::sagemaker:<action>`,
`arn:aws:states:::glue:<action>`) when the state machine is created or updated; a field the API does not
take fails the deployment. The build refuses such a field first, using the request shape of botocore's
service model; the `aws-sdk:` form of the same services takes every field of the API, and only those.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import botocore.session

_INTEGRATION = re.compile(r"^arn:aws:states:::(aws-sdk:)?(sagemaker|glue):([A-Za-z]+)(?:\.sync|\.waitForTaskToken)?$")


@lru_cache(maxsize=4)
def _request_members(service: str, action: str) -> frozenset[str] | None:
    model = botocore.session.get_session().get_service_model(service)
    operation = action[0].upper() + action[1:]
    if operation not in model.operation_names:
        return None
    shape = model.operation_model(operation).input_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def integration_problems(document: dict[str, Any]) -> list[str]:
    """One line per integration field (or action) the API does not take."""
    problems = []
    for name, state in document.get("States", {}).items():
        match = _INTEGRATION.match(str(state.get("Resource", "")))
        if state.get("Type") != "Task" or match is None:
            continue
        sdk, service, action = match.groups()
        members = _request_members(service, action)
        if members is None:
            problems.append(f"{name}: {service} has no action {action}; use an action of its API")
            continue
        for field in state.get("Parameters", {}):
            if field.removesuffix(".$") not in members:
                fix = "remove it" if sdk else f"remove it, or use arn:aws:states:::aws-sdk:{service}:{action}"
                problems.append(
                    f"{name}: {field.removesuffix('.$')} is not a field of {service}:{action}'s request; {fix}"
                )
    return problems
