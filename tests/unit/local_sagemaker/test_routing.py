"""Weighted routing, atomic route switches and draining of the endpoint router."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from local.sagemaker.fleet import Fleet, VariantFleet
from local.sagemaker.router import EndpointRouter, Route, UnknownVariant, pick_weighted


@pytest.mark.parametrize(
    ("weights", "draw", "index"),
    [
        ([1.0], 0.99, 0),
        ([1.0, 1.0], 0.49, 0),
        ([1.0, 1.0], 0.5, 1),
        ([1.0, 3.0], 0.24, 0),
        ([1.0, 3.0], 0.25, 1),
        ([0.0, 2.0], 0.0, 1),
        ([0.0, 0.0], 0.7, 1),
        ([2.0, 0.0, 2.0], 0.5, 2),
    ],
)
def test_pick_weighted_gives_each_index_its_share(weights: list[float], draw: float, index: int) -> None:
    assert pick_weighted(weights, draw) == index


class FakeInstance:
    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id

    def alive(self) -> bool:
        return True


def fleet(name: str, weights: dict[str, float], instances: int = 1) -> Fleet:
    variants = [
        VariantFleet(
            variant,
            weight,
            f"{name}-model",
            "ml.m5.large",
            [FakeInstance(f"{name}-{variant}-{i}") for i in range(instances)],
        )  # type: ignore[misc]
        for variant, weight in weights.items()
    ]
    return Fleet("ep", name, variants)


def shares(router: EndpointRouter, draws: int = 4000, **kwargs: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _ in range(draws):
        lease = router.acquire("ep", **kwargs)
        assert lease is not None
        counts[f"{lease.fleet.config_name}/{lease.variant.name}"] += 1
        router.release(lease)
    return counts


def test_variants_get_traffic_by_weight() -> None:
    router = EndpointRouter(seed=7)
    router.set_route("ep", Route(fleet("blue", {"a": 1.0, "b": 3.0})))
    counts = shares(router)
    assert counts["blue/b"] / 4000 == pytest.approx(0.75, abs=0.03)


def test_a_canary_share_goes_to_the_green_fleet() -> None:
    router = EndpointRouter(seed=11)
    router.set_route("ep", Route(fleet("blue", {"AllTraffic": 1.0}), fleet("green", {"AllTraffic": 1.0}), 0.1))
    assert shares(router)["green/AllTraffic"] / 4000 == pytest.approx(0.1, abs=0.02)


def test_a_target_variant_is_honoured_and_an_unknown_one_refused() -> None:
    router = EndpointRouter(seed=3)
    router.set_route("ep", Route(fleet("blue", {"a": 1.0, "b": 0.0})))
    assert shares(router, draws=50, target_variant="b") == Counter({"blue/b": 50})
    with pytest.raises(UnknownVariant):
        router.acquire("ep", target_variant="c")
    assert router.acquire("other") is None


def test_requests_spread_over_the_least_busy_instances() -> None:
    router = EndpointRouter(seed=5)
    blue = fleet("blue", {"AllTraffic": 1.0}, instances=2)
    router.set_route("ep", Route(blue))
    first, second = router.acquire("ep"), router.acquire("ep")
    assert first is not None and second is not None
    assert first.instance is not second.instance
    assert router.in_flight(blue) == 2


def test_after_a_switch_no_request_reaches_the_old_fleet_and_it_drains() -> None:
    router = EndpointRouter(seed=1)
    blue, green = fleet("blue", {"AllTraffic": 1.0}), fleet("green", {"AllTraffic": 1.0})
    router.set_route("ep", Route(blue))
    in_flight = router.acquire("ep")
    assert in_flight is not None and in_flight.fleet is blue

    router.set_route("ep", Route(green))  # one atomic switch
    assert {router.acquire("ep").fleet.config_name for _ in range(100)} == {"green"}  # type: ignore[union-attr]
    assert router.wait_idle(blue, timeout=0.05) is False  # the request sent before the switch is not answered

    answered = threading.Timer(0.05, router.release, args=(in_flight,))
    answered.start()
    assert router.wait_idle(blue, timeout=5) is True
    assert router.in_flight(blue) == 0
