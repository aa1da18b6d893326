"""The traffic plan of a blue/green deployment, from its `TrafficRoutingConfiguration`.

Each step is the share of traffic the green fleet takes and how long that step bakes (the alarms
are watched all the while):

* `ALL_AT_ONCE`: 100% at once, then one baking period.
* `CANARY`: the canary's share (`CanarySize`, a percent of the green fleet's capacity or a number
  of its instances), a baking period, then 100% and a final baking period.
* `LINEAR`: `LinearStepSize` more in each step until 100%, every step baked.

Shares are of traffic: the local fleets are processes, so a 10% canary on a one-instance fleet is
10% of the requests rather than a whole instance.
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


def capacity_share(size: dict[str, Any], green_instances: int, field: str) -> float:
    kind, value = size.get("Type"), size.get("Value")
    if not isinstance(value, int) or value < 1:
        raise TrafficPlanError(f"{field}.Value must be a positive integer, got {value!r}")
    if kind == "CAPACITY_PERCENT":
        if value > 100:
            raise TrafficPlanError(f"{field}.Value is a percent: at most 100, got {value}")
        return value / 100.0
    if kind == "INSTANCE_COUNT":
        if green_instances < 1:
            raise TrafficPlanError(f"{field}: the new fleet has no instances")
        return min(value, green_instances) / green_instances
    raise TrafficPlanError(f"{field}.Type must be CAPACITY_PERCENT or INSTANCE_COUNT, got {kind!r}")


def plan_traffic(routing: dict[str, Any] | None, green_instances: int) -> list[TrafficStep]:
    routing = routing or {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    kind = routing.get("Type")
    wait = float(routing.get("WaitIntervalInSeconds", 0))
    if kind == "ALL_AT_ONCE":
        return [TrafficStep(1.0, wait, "all at once")]
    if kind == "CANARY":
        size = routing.get("CanarySize")
        if not size:
            raise TrafficPlanError("CANARY traffic routing needs CanarySize")
        share = capacity_share(size, green_instances, "CanarySize")
        if share >= 1.0:
            return [TrafficStep(1.0, wait, "canary covering the whole fleet")]
        return [TrafficStep(share, wait, f"canary {share:.0%}"), TrafficStep(1.0, wait, "remaining traffic")]
    if kind == "LINEAR":
        size = routing.get("LinearStepSize")
        if not size:
            raise TrafficPlanError("LINEAR traffic routing needs LinearStepSize")
        step = capacity_share(size, green_instances, "LinearStepSize")
        count = math.ceil(round(1.0 / step, 9))
        return [
            TrafficStep(min(1.0, step * index), wait, f"linear step {index} of {count}")
            for index in range(1, count + 1)
        ]
    raise TrafficPlanError(f"TrafficRoutingConfiguration.Type must be ALL_AT_ONCE, CANARY or LINEAR, got {kind!r}")
