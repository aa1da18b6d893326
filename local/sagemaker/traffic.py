"""The traffic plan of a blue/green deployment, from its `TrafficRoutingConfiguration`.

Each step is the share of traffic the green fleet takes and how long that step bakes (the alarms
are watched all the while):

* `ALL_AT_ONCE`: 100% at once, then one baking period.
* `CANARY`: the canary's instances (`CanarySize`), a baking period, then 100% and a final baking period.
* `LINEAR`: `LinearStepSize` more instances in each step until 100%, every step baked.

SageMaker turns traffic on instance by instance, so a step's share is its whole instances over the
variant's instance count: a percent is rounded up to whole instances (an instance takes all of its
share or none; AWS documents no rounding, and up is the only way a percent below one instance can
turn any traffic on). The documented limits are checked on those instances (botocore
`sagemaker/2017-07-24/service-2.json`, `TrafficRoutingConfig`: "CanarySize ... Value must be less
than or equal to 50% of the variant's total instance count", "LinearStepSize ... Value must be
10-50% of the variant's total instance count"; deployment-guardrails-blue-green-canary: "the
canary size should be less than or equal to 50% of the new fleet's capacity").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrafficStep:
    green_share: float
    bake_seconds: float
    label: str


class TrafficPlanError(ValueError):
    """The routing configuration cannot be planned: the message says which field and why."""


def size_in_instances(size: dict[str, Any], instances: int, field: str) -> int:
    """The whole instances a `CapacitySize` turns on in a variant of `instances` instances."""
    kind, value = size.get("Type"), size.get("Value")
    if not isinstance(value, int) or value < 1:
        raise TrafficPlanError(f"{field}.Value must be a positive integer, got {value!r}")
    if instances < 1:
        raise TrafficPlanError(f"{field}: the new fleet has no instances")
    if kind == "CAPACITY_PERCENT":
        if value > 100:
            raise TrafficPlanError(f"{field}.Value is a percent: at most 100, got {value}")
        return math.ceil(round(instances * value / 100, 9))
    if kind == "INSTANCE_COUNT":
        return value
    raise TrafficPlanError(f"{field}.Type must be CAPACITY_PERCENT or INSTANCE_COUNT, got {kind!r}")


def _check_share(size: dict[str, Any], instances: int, field: str, low_percent: int) -> int:
    count = size_in_instances(size, instances, field)
    value = size["Value"]
    too_small = count * 100 < low_percent * instances or (size["Type"] == "CAPACITY_PERCENT" and value < low_percent)
    too_large = count * 2 > instances or (size["Type"] == "CAPACITY_PERCENT" and value > 50)
    if too_small or too_large:
        bounds = "less than or equal to 50%" if low_percent == 0 else f"{low_percent}-50%"
        raise TrafficPlanError(
            f"{field} {{Type: {size['Type']}, Value: {value}}} is {count} of the variant's {instances} "
            f"instance(s); the value must be {bounds} of the variant's total instance count."
        )
    return count


def check_routing(routing: dict[str, Any] | None, instances: int) -> None:
    """Raise TrafficPlanError when SageMaker refuses `routing` for a variant of `instances` instances."""
    routing = routing or {}
    kind = routing.get("Type", "ALL_AT_ONCE")
    if kind == "CANARY":
        if not routing.get("CanarySize"):
            raise TrafficPlanError("CANARY traffic routing needs CanarySize")
        _check_share(routing["CanarySize"], instances, "CanarySize", 0)
    elif kind == "LINEAR":
        if not routing.get("LinearStepSize"):
            raise TrafficPlanError("LINEAR traffic routing needs LinearStepSize")
        _check_share(routing["LinearStepSize"], instances, "LinearStepSize", 10)
    elif kind != "ALL_AT_ONCE":
        raise TrafficPlanError(f"TrafficRoutingConfiguration.Type must be ALL_AT_ONCE, CANARY or LINEAR, got {kind!r}")


def plan_traffic(routing: dict[str, Any] | None, instances: int) -> list[TrafficStep]:
    check_routing(routing, instances)
    routing = routing or {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    kind = routing.get("Type")
    wait = float(routing.get("WaitIntervalInSeconds", 0))
    if kind == "CANARY":
        share = size_in_instances(routing["CanarySize"], instances, "CanarySize") / instances
        return [TrafficStep(share, wait, f"canary {share:.0%}"), TrafficStep(1.0, wait, "remaining traffic")]
    if kind == "LINEAR":
        step = size_in_instances(routing["LinearStepSize"], instances, "LinearStepSize")
        count = math.ceil(instances / step)
        return [
            TrafficStep(min(instances, step * index) / instances, wait, f"linear step {index} of {count}")
            for index in range(1, count + 1)
        ]
    return [TrafficStep(1.0, wait, "all at once")]


def check_timeout(policy: dict[str, Any]) -> None:
    """BlueGreenUpdatePolicy: "the timeout value should be larger than the total waiting time specified
    in TerminationWaitInSeconds and WaitIntervalInSeconds" (botocore, `MaximumExecutionTimeoutInSeconds`)."""
    timeout = policy.get("MaximumExecutionTimeoutInSeconds")
    if timeout is None:
        return
    waits = int(policy.get("TerminationWaitInSeconds") or 0)
    waits += int((policy.get("TrafficRoutingConfiguration") or {}).get("WaitIntervalInSeconds") or 0)
    if timeout <= waits:
        raise TrafficPlanError(
            f"MaximumExecutionTimeoutInSeconds ({timeout}) must be larger than the total of "
            f"TerminationWaitInSeconds and WaitIntervalInSeconds ({waits})."
        )
