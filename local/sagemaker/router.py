"""Which instance answers an invocation, and knowing when a fleet has no request in flight.

A `Route` is immutable: a blue fleet, optionally a green one and the share of traffic the green one
takes. Switching traffic is replacing an endpoint's route under the router's lock, and taking a
request is choosing an instance *and* counting it in flight under that same lock, so once a route
no longer names a fleet no new request can reach it; `wait_idle` then drains what was already sent
before the fleet is stopped. That is how no request is dropped during a rollout or a rollback.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from local.sagemaker.fleet import Fleet, VariantFleet, VariantInstance


def pick_weighted(weights: Sequence[float], draw: float) -> int:
    """The index that `draw` (uniform in [0, 1)) lands on when each index has its weight's share.

    All-zero weights spread evenly: SageMaker rejects an endpoint config whose variants all weigh 0.
    """
    total = sum(max(0.0, weight) for weight in weights)
    if not weights:
        raise ValueError("no weights to pick from")
    if total <= 0:
        return min(int(draw * len(weights)), len(weights) - 1)
    point = draw * total
    running = 0.0
    for index, weight in enumerate(weights):
        running += max(0.0, weight)
        if point < running:
            return index
    return len(weights) - 1


@dataclass(frozen=True)
class Route:
    blue: Fleet | None
    green: Fleet | None = None
    green_share: float = 0.0

    def fleet_for(self, draw: float) -> Fleet | None:
        if self.green is not None and (self.blue is None or draw < self.green_share):
            return self.green
        return self.blue

    def fleets(self) -> list[Fleet]:
        return [fleet for fleet in (self.blue, self.green) if fleet is not None]


@dataclass(frozen=True)
class Lease:
    endpoint: str
    fleet: Fleet
    variant: VariantFleet
    instance: VariantInstance


class UnknownVariant(Exception):
    pass


class EndpointRouter:
    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Condition()
        self._routes: dict[str, Route] = {}
        self._in_flight: dict[str, int] = {}
        self._random = random.Random(seed)  # traffic split  # nosec B311

    def set_route(self, endpoint: str, route: Route | None) -> None:
        with self._lock:
            if route is None:
                self._routes.pop(endpoint, None)
            else:
                self._routes[endpoint] = route

    def route(self, endpoint: str) -> Route | None:
        with self._lock:
            return self._routes.get(endpoint)

    def acquire(self, endpoint: str, target_variant: str | None = None) -> Lease | None:
        """Choose fleet, variant and instance for one request and count it in flight."""
        with self._lock:
            route = self._routes.get(endpoint)
            if route is None:
                return None
            fleet = route.fleet_for(self._random.random())
            if fleet is None:
                return None
            if target_variant:
                variant = fleet.variant(target_variant)
                if variant is None:
                    raise UnknownVariant(target_variant)
            else:
                index = pick_weighted([v.weight for v in fleet.variants], self._random.random())
                variant = fleet.variants[index]
            live = [instance for instance in variant.instances if instance.alive()] or variant.instances
            if not live:
                return None
            fewest = min(self._in_flight.get(i.instance_id, 0) for i in live)
            instance = self._random.choice([i for i in live if self._in_flight.get(i.instance_id, 0) == fewest])
            self._in_flight[instance.instance_id] = self._in_flight.get(instance.instance_id, 0) + 1
            return Lease(endpoint, fleet, variant, instance)

    def release(self, lease: Lease) -> None:
        with self._lock:
            key = lease.instance.instance_id
            remaining = self._in_flight.get(key, 1) - 1
            if remaining <= 0:
                self._in_flight.pop(key, None)
            else:
                self._in_flight[key] = remaining
            self._lock.notify_all()

    def in_flight(self, fleet: Fleet) -> int:
        with self._lock:
            return sum(self._in_flight.get(instance.instance_id, 0) for instance in fleet.instances)

    def wait_idle(self, fleet: Fleet, timeout: float) -> bool:
        """Wait until no request is in flight on `fleet` (which no route may still name)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                busy = sum(self._in_flight.get(instance.instance_id, 0) for instance in fleet.instances)
                if busy == 0:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
